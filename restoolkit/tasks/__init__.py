"""The task layer shared by every domain: ``Task``, ``Preprocessor``, ``Report`` and the plug-in registry.

The core defines the shape; the domains (installed separately, found through entry points) fill it.
"""

from restoolkit.tasks.apps import DomainApp, installed_apps
from restoolkit.tasks.options import Option, validate
from restoolkit.tasks.preprocessor import Preprocessor
from restoolkit.tasks.report import Report
from restoolkit.tasks.task import Task
from restoolkit.tasks.training import train_task

__all__ = ["DomainApp", "Option", "Preprocessor", "Report", "Task", "installed_apps", "train_task", "validate"]
