"""The data browser in a real browser: Schema -> a table's grid, filter, sort, paging total,
edit a record (saved in the database), a bad value shows the API's message and changes nothing,
create and delete. Saves docs/screenshots/11-*.png and 12-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _names(page: Any) -> list[str]:
    return page.locator("#db-grid tbody td[data-column=name]").all_inner_texts()


def _open_table(page: Any, service: Any, table: str) -> None:
    page.goto(f"/admin/services/service/{service.pk}/schema/")
    caption = page.locator(".table-name", has_text=re.compile(f"^{re.escape(table)}$"))
    page.locator("a.data-browser-link", has=caption).click()
    expect(page).to_have_title(re.compile(f"^Data of {re.escape(table)}"))


def _row(page: Any, column: str, value: str) -> Any:
    cell = page.locator(f"td[data-column={column}]", has_text=re.compile(f"^{re.escape(value)}$"))
    return page.locator("#db-grid tbody tr", has=cell)


def _field(page: Any, name: str) -> Any:
    return page.locator(f"#db-fields .form-row[data-column={name}] input[type=text]")


def test_browse_filter_sort_and_edit(
    admin_user: Any, service: Any, pg: Any, page: Any, screenshot: Any
) -> None:
    log_in(page)
    _open_table(page, service, "customers")
    summary = page.locator("#db-summary")
    expect(summary).to_have_text("Rows 1\u20133 of 3")
    expect(page.locator("#db-grid tbody tr")).to_have_count(3)
    assert "Acme" in _names(page)

    # the filter box speaks the API's filter grammar
    page.fill("#db-filter", "country = 'US'")
    page.click("#db-apply")
    expect(summary).to_have_text("Rows 1\u20132 of 2 matching the filter")
    assert sorted(_names(page)) == ["Acme", "Initech"]
    page.fill("#db-filter", "country ==")
    page.click("#db-apply")
    expect(page.locator("#db-messages li.error")).to_contain_text(
        "Invalid or unparsable filter request."
    )
    page.click("#db-clear")
    expect(summary).to_have_text("Rows 1\u20133 of 3")

    # a header sorts ascending, a second click descending
    header = page.locator("#db-grid th[data-column=name] button")
    header.click()
    expect(page.locator("#db-grid th[data-column=name]")).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert _names(page) == ["Acme", "Globex", "Initech"]
    header.click()
    expect(page.locator("#db-grid th[data-column=name]")).to_have_attribute(
        "aria-sort", "descending"
    )
    assert _names(page) == ["Initech", "Globex", "Acme"]

    screenshot("11-data-browser")

    # open a record, edit a field, save: the database has it
    _row(page, "name", "Globex").click()
    expect(page.locator("#db-editor-title")).to_have_text("Record 2")
    assert _field(page, "id").get_attribute("readonly") is not None  # the key is not edited
    _field(page, "email").fill("billing@globex.example")
    screenshot("12-data-browser-edit")
    page.click("#db-save")
    expect(page.locator("#db-messages li.success")).to_have_text("Record saved.")
    expect(_row(page, "name", "Globex").locator("td[data-column=email]")).to_have_text(
        "billing@globex.example"
    )
    email = pg.execute("SELECT email FROM customers WHERE id = 2").fetchone()
    assert email == ("billing@globex.example",)

    # NULL is a value of its own, not an empty string
    _row(page, "name", "Globex").click()
    page.locator("#db-fields .form-row[data-column=email] .db-null-box").check()
    page.click("#db-save")
    expect(page.locator("#db-messages li.success")).to_have_text("Record saved.")
    assert pg.execute("SELECT email FROM customers WHERE id = 2").fetchone() == (None,)


def test_paging_with_the_total(admin_user: Any, service: Any, pg: Any, page: Any) -> None:
    pg.execute(
        "INSERT INTO customers (name) SELECT 'Customer ' || lpad(n::text, 2, '0')"
        " FROM generate_series(1, 22) AS n"
    )
    log_in(page)
    _open_table(page, service, "customers")
    summary, pager = page.locator("#db-summary"), page.locator("#db-page")
    expect(summary).to_have_text("Rows 1\u201325 of 25")
    page.select_option("#db-page-size", "10")
    expect(summary).to_have_text("Rows 1\u201310 of 25")
    expect(pager).to_have_text("Page 1 of 3")
    expect(page.locator("#db-prev")).to_be_disabled()
    page.click("#db-next")
    expect(summary).to_have_text("Rows 11\u201320 of 25")
    page.click("#db-next")
    expect(summary).to_have_text("Rows 21\u201325 of 25")
    expect(page.locator("#db-grid tbody tr")).to_have_count(5)
    expect(page.locator("#db-next")).to_be_disabled()
    page.click("#db-prev")
    expect(pager).to_have_text("Page 2 of 3")


def test_bad_value_shows_the_api_message_and_changes_nothing(
    admin_user: Any, service: Any, pg: Any, page: Any
) -> None:
    log_in(page)
    _open_table(page, service, "orders")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20134 of 4")
    _row(page, "note", "first").click()
    _field(page, "customer_id").fill("not a number")
    page.click("#db-save")
    expect(page.locator("#db-editor-messages li.error")).to_have_text(
        "Field 'customer_id' must be a valid integer."
    )
    expect(page.locator("#db-editor")).to_be_visible()  # the edit is still there to fix
    assert pg.execute("SELECT customer_id FROM orders WHERE id = 1").fetchone() == (1,)

    # a constraint the database enforces comes back the same way
    _open_table(page, service, "customers")
    _row(page, "name", "Acme").click()
    _field(page, "name").fill("Globex")
    page.click("#db-save")
    expect(page.locator("#db-editor-messages li.error")).to_contain_text(
        "Duplicate value violates unique constraint"
    )
    assert pg.execute("SELECT name FROM customers WHERE id = 1").fetchone() == ("Acme",)


def test_new_record_and_delete(admin_user: Any, service: Any, pg: Any, page: Any) -> None:
    log_in(page)
    _open_table(page, service, "customers")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20133 of 3")
    page.click("#db-new")
    _field(page, "name").fill("Umbrella <b>Corp</b>")
    _field(page, "country").fill("GB")
    page.click("#db-save")
    expect(page.locator("#db-messages li.success")).to_have_text("Record created.")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20134 of 4")
    assert "Umbrella <b>Corp</b>" in _names(page)  # shown as text, not as markup
    assert pg.execute("SELECT country FROM customers WHERE name LIKE 'Umbrella%'").fetchone() == (
        "GB",
    )

    page.once("dialog", lambda dialog: dialog.accept())
    _row(page, "name", "Umbrella <b>Corp</b>").click()
    page.click("#db-delete")
    expect(page.locator("#db-messages li.success")).to_have_text("Record deleted.")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20133 of 3")
    assert pg.execute("SELECT count(*) FROM customers WHERE name LIKE 'Umbrella%'").fetchone() == (
        0,
    )


def test_table_without_primary_key_is_read_only(admin_user: Any, service: Any, page: Any) -> None:
    log_in(page)
    _open_table(page, service, "no_pk")
    expect(page.locator("#db-read-only")).to_contain_text("no primary key")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20132 of 2")
    page.locator("#db-grid tbody tr").first.click()
    expect(page.locator("#db-save")).to_be_hidden()
    expect(page.locator("#db-delete")).to_be_hidden()


def test_odd_table_and_column_names(admin_user: Any, service: Any, pg: Any, page: Any) -> None:
    log_in(page)
    _open_table(page, service, "Table With Space")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20131 of 1")
    page.locator("#db-grid th[data-column='Column With Space'] button").click()
    expect(page.locator("#db-grid th[data-column='Column With Space']")).to_have_attribute(
        "aria-sort", "ascending"
    )
    page.locator("#db-grid tbody tr").first.click()
    page.locator("#db-fields .form-row[data-column='Column With Space'] input[type=text]").fill(
        "still spaced"
    )
    page.click("#db-save")
    expect(page.locator("#db-messages li.success")).to_have_text("Record saved.")
    assert pg.execute('SELECT "Column With Space" FROM "Table With Space"').fetchone() == (
        "still spaced",
    )
    _open_table(page, service, 'quote"d')
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20131 of 1")


def test_composite_key_record(admin_user: Any, service: Any, pg: Any, page: Any) -> None:
    log_in(page)
    _open_table(page, service, "line_keys")
    expect(page.locator("#db-summary")).to_have_text("Rows 1\u20133 of 3")
    _row(page, "item", "pear").click()
    expect(page.locator("#db-editor-title")).to_have_text("Record 1, 2")
    _field(page, "item").fill("quince")
    page.click("#db-save")
    expect(page.locator("#db-messages li.success")).to_have_text("Record saved.")
    rows = pg.execute("SELECT order_no, line_no, item FROM line_keys ORDER BY 1, 2").fetchall()
    assert rows == [(1, 1, "apple"), (1, 2, "quince"), (2, 1, "plum")]
