import pytest

from domains.fraud.data import add_behaviour_features, simulate_transactions


@pytest.fixture(scope="session")
def transactions():
    """A small simulated bank: 300 customers, 600 terminals, 70 days (about 40k transactions)."""
    return add_behaviour_features(simulate_transactions(300, 600, 70, seed=0))
