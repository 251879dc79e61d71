"""The PDF a letter to a borrower is printed as (its text: legal.validators).

The PDF is drawn by reportlab in its built-in CID font STSong-Light (Adobe's Song typeface for
Simplified Chinese, which covers Latin too): no font file or system package is needed, the text
layer is Unicode (it can be searched and copied), and every PDF reader shows it with its own Song
typeface."""

import io
from xml.sax.saxutils import escape

from django.conf import settings

__all__ = ["LETTER_FONT", "LetterContent", "letter_pdf"]

LETTER_FONT = "STSong-Light"


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
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    if LETTER_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(LETTER_FONT))
    # Chinese breaks between any two characters; English at spaces.
    wrap = "CJK" if content.language != "en" else None
    body = ParagraphStyle("body", fontName=LETTER_FONT, fontSize=11, leading=18, wordWrap=wrap, spaceAfter=2)
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
