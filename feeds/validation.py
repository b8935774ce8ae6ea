"""Check an XML file against our local Kaspi schema, streaming, with the line of every error.

The parser keeps no tree: libxml2 validates the SAX stream, so memory stays flat however large the
file, except for the `xs:unique` check, which holds every SKU (some 300 bytes an offer).
"""

from functools import cache, partial

from django.conf import settings
from django.utils.translation import gettext as _
from lxml import etree

SCHEMA_PATH = settings.BASE_DIR / "schemas" / "kaspishopping.xsd"
XS = "http://www.w3.org/2001/XMLSchema"
OFFER_TAG = "{kaspiShopping}offer"
MAX_ERRORS = 100
_BLOCK = 1 << 20
_MAX_LINE = 1 << 16  # a file that is one long line is still read in bounded pieces


@cache
def schema(*, unique_skus=True):
    """The local XSD, optionally without its SKU uniqueness constraint."""
    document = etree.parse(str(SCHEMA_PATH))
    if not unique_skus:
        for constraint in document.iter(f"{{{XS}}}unique"):
            constraint.getparent().remove(constraint)
    return etree.XMLSchema(document)


class _Discard:
    """Parser target that keeps nothing; validation happens on the way to it."""

    def close(self):
        return None


def validate_file(path, *, unique_skus=True) -> list[str]:
    """Return the file's syntax and schema errors as "line N: message" (empty when valid).

    `unique_skus=False` skips the SKU uniqueness check, for a caller that has made it already.
    """
    # A valid file (the usual case) is read once, in large blocks. An invalid one is read again a
    # line at a time, because streamed schema errors carry no line of their own: each is put on the
    # line being fed when it appeared. lxml loses syntax errors when a schema is attached, so
    # well-formedness is checked on its own first.
    xml_schema = schema(unique_skus=unique_skus)
    if not _errors(path, xml_schema, line_by_line=False):
        return []
    return _errors(path, None, line_by_line=True) or _errors(path, xml_schema, line_by_line=True)


def _errors(path, xml_schema, *, line_by_line):
    parser = etree.XMLParser(target=_Discard(), schema=xml_schema)
    found_on = []  # the line each entry of the parser's error log was found on
    line = 1
    failure = None
    try:
        with open(path, "rb") as source:
            read = partial(source.readline, _MAX_LINE) if line_by_line else partial(source.read, _BLOCK)
            for chunk in iter(read, b""):
                parser.feed(chunk)
                found_on += [line] * (len(parser.feed_error_log) - len(found_on))
                if len(found_on) >= MAX_ERRORS:
                    break
                line += chunk.count(b"\n")
            else:
                parser.close()  # reports a truncated file
    except etree.XMLSyntaxError as exc:
        failure = exc
    except OSError as exc:
        return [_("cannot read %(path)s: %(error)s") % {"path": path, "error": exc.strerror}]
    log = parser.feed_error_log
    found_on += [line] * (len(log) - len(found_on))
    errors = [_at(entry.line or found_on[i], entry.message) for i, entry in enumerate(log) if _is_news(entry)]
    if failure and not errors:  # an empty file, say: raised, but never logged
        errors.append(_at(failure.lineno or line, failure.msg))
    return errors


def _at(line, message):
    return _("line %(line)d: %(message)s") % {"line": line, "message": message}


def _is_news(entry):
    # libxml2 follows an invalid SKU with an identity-constraint remark about the same value.
    return entry.level >= etree.ErrorLevels.ERROR and "No precomputed value" not in entry.message


def count_offers(path) -> int:
    """Number of offer elements, streaming (for reports on files we did not build)."""
    count = 0
    for _event, offer in etree.iterparse(str(path), tag=OFFER_TAG):
        count += 1
        offer.clear()
        while offer.getprevious() is not None:
            del offer.getparent()[0]
    return count
