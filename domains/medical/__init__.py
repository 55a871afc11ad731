"""Medical imaging: DICOM to tensors (``dicom``); datasets, models, training and evaluation follow."""
