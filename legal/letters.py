"""The PDF a letter to a borrower is printed as (its text: legal.validators).

The PDF is drawn by reportlab with a Song typeface embedded in it, the subset of its glyphs the
letter uses: the TrueType font LEGAL_LETTER_FONT_FILE (Debian's AR PL UMing, which covers Chinese,
Latin and ¥), so that the letter looks the same in every reader and on every printer, as a
document sent to a borrower or filed with a court must. The text layer is Unicode (it can be
searched and copied). Without the font file (a machine that did not install it) the letter falls
back to reportlab's built-in CID font STSong-Light, which is referenced, not embedded, and the
check legal.W001 says so (docs/legal-documents.md)."""

import functools
import io
import logging
from xml.sax.saxutils import escape

from django.conf import settings
from django.core import checks

__all__ = ["EMBEDDED_FONT", "REFERENCED_FONT", "LetterContent", "letter_font", "letter_pdf"]

logger = logging.getLogger(__name__)

# The names the letters' fonts are registered under in reportlab.
EMBEDDED_FONT = "DeskLetterSong"
REFERENCED_FONT = "STSong-Light"


@functools.cache
def _registered(path: str, index: int) -> str:
    """Register the letters' font once per process: the embedded one from `path` (`index`: the
    face of a .ttc), or the referenced one when there is no such file."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    try:
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, path, subfontIndex=index))
        return EMBEDDED_FONT
    except (OSError, TTFError):  # no such file, or not a font reportlab can embed
        logger.warning("The letters' font %s cannot be read: the letters reference %s instead", path, REFERENCED_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(REFERENCED_FONT))
    return REFERENCED_FONT


def letter_font() -> str:
    """The reportlab name of the font the letters are drawn in: EMBEDDED_FONT, or REFERENCED_FONT
    without the font file."""
    return _registered(str(settings.LEGAL_LETTER_FONT_FILE), settings.LEGAL_LETTER_FONT_INDEX)


@checks.register(checks.Tags.compatibility)
def letter_font_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """legal.W001: the letters' font file is missing, so the letters will reference a font rather
    than embed one."""
    if settings.LEGAL_LETTER_FONT_FILE.is_file():
        return []
    return [
        checks.Warning(
            f"The letters' font file {settings.LEGAL_LETTER_FONT_FILE} does not exist: the letters' PDFs will "
            f"reference the font {REFERENCED_FONT} instead of embedding one, and readers without it substitute "
            "their own.",
            hint="Install Debian's fonts-arphic-uming, or set LEGAL_LETTER_FONT_FILE to a TrueType font with "
            "Chinese glyphs.",
            id="legal.W001",
        )
    ]


class LetterContent:
    """What the PDF shows, in the letter's language: the title, who writes, to whom, the text,
    the date."""

    def __init__(self, *, title: str, sender: str, addressee: str, address: str, body: str, dated: str, language: str):
        self.title = title
        self.sender = sender
        self.addressee = addressee
        self.address = address
        self.body = body
        self.dated = dated
        self.language = language


def letter_pdf(content: LetterContent) -> bytes:
    """The letter as an A4 PDF: the sender, the addressee and their postal address, the title, the
    text line by line (a blank line a paragraph break), the sender and date at the foot."""
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    # Chinese breaks between any two characters; English at spaces.
    wrap = "CJK" if content.language != "en" else None
    body = ParagraphStyle("body", fontName=letter_font(), fontSize=11, leading=18, wordWrap=wrap, spaceAfter=2)
    title = ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=10)
    right = ParagraphStyle("right", parent=body, alignment=TA_RIGHT)

    def paragraph(text: str, style=body) -> Paragraph:
        return Paragraph(escape(text), style)

    story = [paragraph(content.sender), Spacer(1, 6 * mm)]
    story += [paragraph(content.addressee), paragraph(content.address), Spacer(1, 8 * mm)]
    story += [paragraph(content.title, title)]
    for line in content.body.splitlines():
        story.append(paragraph(line) if line.strip() else Spacer(1, 4 * mm))
    story += [Spacer(1, 10 * mm), paragraph(content.sender, right), paragraph(content.dated, right)]

    output = io.BytesIO()
    document = SimpleDocTemplate(
        output,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=content.title,
        author=content.sender,
        subject=content.addressee,
        creator=str(settings.COLLECTION_COMPANY_NAME),
    )
    document.build(story)
    return output.getvalue()
