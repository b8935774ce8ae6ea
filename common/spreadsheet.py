"""Text in the spreadsheets the site writes (CSV, XLSX): shown as it is, never run."""

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection"): a product
# the supplier names "=HYPERLINK(…)" must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(value):
    """`value` as a text cell: a leading apostrophe keeps what would start a formula from running."""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def from_text(value):
    """The text that `as_text` wrote, as it was before."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value
