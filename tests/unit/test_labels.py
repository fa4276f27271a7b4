"""DF's label and plural fields for tables."""

import pytest

from core.responses import label_for, plural


@pytest.mark.parametrize(
    ("name", "label", "plural_label"),
    [
        ("todo", "Todo", "Todos"),
        ("customers", "Customers", "Customers"),
        ("order_items", "Order Items", "Order Items"),
        ("category", "Category", "Categories"),
        ("day", "Day", "Days"),
        ("address", "Address", "Addresses"),
        ("status", "Status", "Statuses"),
        ("box", "Box", "Boxes"),
        ("other.secret", "Other Secret", "Other Secrets"),
    ],
)
def test_label_and_plural(name: str, label: str, plural_label: str) -> None:
    assert label_for(name) == label
    assert plural(label) == plural_label
