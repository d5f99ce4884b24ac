"""Signing a letter: PAdES (B-T with a timestamp authority, B-B without) in one incremental update that keeps the
letter a tagged PDF/A-3a.

The letter reserves the place of the signature at its end (an empty box, `#offerdesk-signature`, which WeasyPrint
writes as a named destination). The signature's widget goes there, with an appearance naming the office, the
signer and the time in an embedded font (PDF/A), and is tagged: a Form structure element, with the same words as
its alternative text, takes the box's place in the structure tree, and the page's tab order follows the structure
(PDF/UA). The document's metadata is left as WeasyPrint wrote it: pyHanko would rewrite the XMP packet with a
producer that no longer matches the Info dictionary's. After signing, the signed bytes are read back: the PDF/A-3a
claim, MarkInfo and the structure tree are still there, and the signature is intact and covers the whole file.

Runs in a render process (`sign_letter` is picklable by name); each process loads the identity once.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PdfSigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.stamp import TextStampStyle

from activities.signing.identity import (
    SigningConfig,
    SigningError,
    SigningUnavailable,
    cached_signer,
    certificate_names,
)

FIELD_NAME = "OfficeSignature"
ANCHOR = "offerdesk-signature"
"""The id of the letter's empty signature box (templates/letter.html.j2), sized as below in letter.css."""
FIELD_WIDTH_PT = 252
FIELD_HEIGHT_PT = 60
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
STAMP_TEXT = "Signed for %(office)s\nSigner: %(signer)s\nTime: %(ts)s"
TSA_TIMEOUT_S = 10
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))


BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
BYTE_RANGE_WINDOW = 4096
"""How far from the signature's hex string its /ByteRange is looked for (pyHanko writes it right after)."""

_RESERVED: dict[SigningConfig, int] = {}
"""The room a signature takes in the file, by identity and timestamp authority: pyHanko estimates it by signing a
dry run (and asking the timestamp authority for a sample), with half again as much for safety."""


@dataclass(frozen=True)
class SignedLetter:
    pdf: bytes
    signer: str
    signed_at: datetime


class _MetadataKeepingWriter(IncrementalPdfFileWriter):
    """An incremental writer that leaves the document's metadata (XMP and Info) exactly as it was."""

    def _update_meta(self) -> None:
        pass


class _IndexedReader(PdfFileReader):
    """pyHanko's reader, finding objects in object streams by an index of each stream read once.

    pyHanko reads an object stream's header from its start again for every object it takes from it; WeasyPrint
    puts hundreds of objects in a stream, so signing a 3-page letter read such headers a few dozen times (3 ms of
    the 35 its signing took). Anything out of the ordinary is left to pyHanko's own way."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), strict=False)
        self._streams: dict[int, tuple[bytes, int, dict[int, int]]] = {}

    def _get_object_from_stream(self, idnum: int, stmnum: int, idx: int) -> generic.PdfObject:
        index = self._streams.get(stmnum)
        if index is None:
            stream = generic.Reference(stmnum, 0, self).get_object()
            if not isinstance(stream, generic.StreamObject) or stream.get("/Type") != "/ObjStm":
                return super()._get_object_from_stream(idnum, stmnum, idx)  # type: ignore[no-any-return]
            data = stream.read_data(DecodePurpose.OBJECT_STREAM)
            first = int(stream["/First"])
            try:
                numbers = [int(n) for n in data[:first].split()]
            except ValueError:  # a damaged header
                return super()._get_object_from_stream(idnum, stmnum, idx)  # type: ignore[no-any-return]
            index = self._streams[stmnum] = (data, first, dict(zip(numbers[::2], numbers[1::2], strict=False)))
        data, first, offsets = index
        if idnum not in offsets:
            return super()._get_object_from_stream(idnum, stmnum, idx)  # type: ignore[no-any-return]
        reading = io.BytesIO(data)
        reading.seek(first + offsets[idnum])
        obj = generic.read_object(reading, generic.Reference(idnum, 0, self))
        if isinstance(obj, generic.StreamObject | generic.IndirectObject):
            return super()._get_object_from_stream(idnum, stmnum, idx)  # type: ignore[no-any-return]
        return obj


@functools.cache
def _font_bytes(chars: str) -> bytes:
    """DejaVu Sans cut down to printable ASCII and `chars` (those of the office's and signer's names), without its
    layout tables, at 1000 units per em: pyHanko reads and subsets the font for every signature, which takes
    220 ms from the whole font and a few from this one."""
    from fontTools import subset, ttLib
    from fontTools.ttLib.scaleUpem import scale_upem

    path = FONT if Path(FONT).exists() else _fc_match("DejaVu Sans")
    font = ttLib.TTFont(path)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(c) for c in PRINTABLE_ASCII + chars}))
    subsetter.subset(font)
    # pyHanko writes the glyphs' widths in font units where PDF wants thousandths of an em: at DejaVu's 2048 units
    # per em every glyph would be drawn twice as wide as it is. Scaled to 1000 units per em, the two agree.
    scale_upem(font, 1000)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _fc_match(family: str) -> str:
    fc = shutil.which("fc-match")
    found = subprocess.run([fc, "-f", "%{file}", family], capture_output=True, text=True).stdout if fc else ""
    if not found:
        raise SigningError(f"the signature's font ({family}) is not installed: install fonts-dejavu-core")
    return found


@dataclass(frozen=True)
class _KeptFont(GlyphAccumulatorFactory):
    """The cut-down font, from memory."""

    chars: str = ""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_font_bytes(self.chars)),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


@functools.cache
def _stamp_style(chars: str) -> TextStampStyle:
    return TextStampStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(font=_KeptFont(font_file=FONT, chars=chars), font_size=8, leading=11),
        border_width=1,
        border_color=(0.12, 0.23, 0.37),
        timestamp_format=TIME_FORMAT,
    )


@functools.cache
def _timestamper(url: str) -> TimeStamper:
    """One per process and URL: pyHanko keeps the sample token it sizes the signature by."""
    return HTTPTimeStamper(url, timeout=TSA_TIMEOUT_S)


def _pages(writer: IncrementalPdfFileWriter) -> list[generic.IndirectObject]:
    """The pages, in order."""
    found: list[generic.IndirectObject] = []

    def walk(node: generic.IndirectObject) -> None:
        obj = node.get_object()
        if obj.get("/Type") == "/Pages":
            for kid in obj["/Kids"]:
                walk(kid)
        else:
            found.append(node)

    walk(writer.root.raw_get("/Pages"))
    return found


def _destination(writer: IncrementalPdfFileWriter, name: str) -> tuple[int, float, float] | None:
    """The page index and top-left point of a named destination (WeasyPrint writes one per element id)."""
    try:
        tree = writer.root["/Names"]["/Dests"]
    except KeyError:
        return None

    def search(node: generic.DictionaryObject) -> generic.ArrayObject | None:
        names = list(node.get("/Names", ()))
        for key, value in zip(names[::2], names[1::2], strict=False):
            if str(key) == name:
                return value  # type: ignore[no-any-return]
        for kid in node.get("/Kids", ()):
            found = search(kid.get_object())
            if found is not None:
                return found
        return None

    dest = search(tree)
    dest = dest.get_object() if dest is not None else None
    if not isinstance(dest, generic.ArrayObject) or len(dest) < 4:
        return None
    page = dest.raw_get(0)
    numbers = [p.idnum for p in _pages(writer)]
    if not isinstance(page, generic.IndirectObject) or page.idnum not in numbers:
        return None
    return numbers.index(page.idnum), float(dest[2]), float(dest[3])


def _empty_div_on(struct_root: generic.DictionaryObject, page: int) -> generic.IndirectObject | None:
    """The signature box's structure element: the last empty Div on the page (the box is the letter's last element).

    Searched from the end, children last-first, so only the end of the tree is read."""
    stack = [struct_root.raw_get("/K")]
    while stack:
        node = stack.pop()
        if isinstance(node, generic.ArrayObject):
            stack.extend(node)  # popped last-first
            continue
        if not isinstance(node, generic.IndirectObject):
            continue
        elem = node.get_object()
        if not isinstance(elem, generic.DictionaryObject) or elem.get("/Type", "/StructElem") != "/StructElem":
            continue
        kids = elem.get("/K")
        if elem.get("/S") == "/Div" and kids in (None, generic.ArrayObject()) and _page_of(elem) == page:
            return node
        if kids is not None:
            stack.append(elem.raw_get("/K"))
    return None


def _page_of(elem: generic.DictionaryObject) -> int | None:
    ref = elem.raw_get("/Pg") if "/Pg" in elem else None
    return ref.idnum if isinstance(ref, generic.IndirectObject) else None


def _tag_widget(writer: IncrementalPdfFileWriter, page_index: int, alt: str) -> None:
    """Put the signature's widget in the structure tree as a Form element with `alt` as its alternative text."""
    page_ref = _pages(writer)[page_index]
    page = page_ref.get_object()
    widget_ref = next((a for a in page.get("/Annots", ()) if a.get_object().get("/T") == FIELD_NAME), None)
    if widget_ref is None:
        raise SigningError("the signature field was not made on the letter's last page")
    widget = widget_ref.get_object()
    struct_root = writer.root["/StructTreeRoot"]
    parent_tree = struct_root["/ParentTree"]
    nums = parent_tree.get("/Nums")
    if nums is None:
        raise SigningError("the letter's structure tree has a parent tree this signer cannot extend")
    key = int(struct_root.get("/ParentTreeNextKey", max((int(k) for k in list(nums)[::2]), default=-1) + 1))
    parent = _empty_div_on(struct_root, page_ref.idnum) or struct_root.raw_get("/K")
    if isinstance(parent, generic.ArrayObject):  # no Document element: the first top-level element
        parent = parent.raw_get(0)
    form = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/StructElem"),
            pdf_name("/S"): pdf_name("/Form"),
            pdf_name("/P"): parent,
            pdf_name("/Pg"): page_ref,
            pdf_name("/Alt"): generic.TextStringObject(alt),
            pdf_name("/K"): generic.DictionaryObject(
                {pdf_name("/Type"): pdf_name("/OBJR"), pdf_name("/Obj"): widget_ref, pdf_name("/Pg"): page_ref}
            ),
        }
    )
    form_ref = writer.add_object(form)
    parent_elem = parent.get_object()
    kids = parent_elem.get("/K")
    if isinstance(kids, generic.ArrayObject):
        kids.append(form_ref)
    else:
        parent_elem[pdf_name("/K")] = generic.ArrayObject([*([kids] if kids is not None else []), form_ref])
    writer.update_container(parent_elem)
    nums.extend([generic.NumberObject(key), form_ref])
    writer.update_container(nums)
    struct_root[pdf_name("/ParentTreeNextKey")] = generic.NumberObject(key + 1)
    writer.update_container(struct_root)
    widget[pdf_name("/StructParent")] = generic.NumberObject(key)
    widget[pdf_name("/Contents")] = generic.TextStringObject(alt)
    widget[pdf_name("/TU")] = generic.TextStringObject("Electronic signature of the letter")
    page[pdf_name("/Tabs")] = pdf_name("/S")  # annotations in structure order (PDF/UA)
    writer.update_container(page)


async def _sign(
    config: SigningConfig, pdf_signer: signers.PdfSigner, writer: IncrementalPdfFileWriter, when: datetime, **tag: Any
) -> tuple[bytes, PreparedByteRangeDigest, bytes]:
    """pyHanko's sign_pdf, with the signing time chosen here and the widget tagged before the appearance is made."""
    session = pdf_signer.init_signing_session(writer)
    session.system_time = when
    if tag:
        _tag_widget(writer, tag["page"], tag["alt"])
    validation_info = await session.perform_presign_validation(writer)
    reserved = _RESERVED.get(config)
    if reserved is None:  # a dry run of the signature (and a sample timestamp), once per process and identity
        reserved = _RESERVED[config] = await session.estimate_signature_container_size(validation_info, tight=False)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info, bytes_reserved=reserved, appearance_text_params=tag.get("params")
    )
    output = io.BytesIO()
    digest, _ = tbs.digest_tbs_document(output=output)
    done = await tbs.perform_signature(
        document_digest=digest.document_digest, pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=when)
    )
    await done.post_signature_processing(output)
    return output.getvalue(), digest, done.sig_contents


def sign_letter(config: SigningConfig, pdf: bytes, when: datetime | None = None) -> SignedLetter:
    """The letter signed with the configured identity, checked after signing (a SigningError if anything is off)."""
    office, name = certificate_names(cached_signer(config).signing_cert)
    when = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    try:
        try:
            signed = _signed(config, pdf, when, office, name)
        except PdfSigningError:
            if _RESERVED.pop(config, None) is None:
                raise
            # The room kept for signatures was too small this time (a longer timestamp token): estimate anew.
            signed = _signed(config, pdf, when, office, name)
    except SigningError:
        raise
    except Exception as e:
        if _may_heal(e):  # the timestamp authority or the token did not answer: open the token again next time
            cached_signer.cache_clear()
            raise SigningUnavailable(f"the letter could not be signed now: {type(e).__name__}: {e}") from None
        raise SigningError(f"the letter could not be signed: {type(e).__name__}: {e}") from None
    return SignedLetter(signed, name, when)


def _signed(config: SigningConfig, pdf: bytes, when: datetime, office: str, name: str) -> bytes:
    """The signed bytes: the widget in the letter's signature box, found by its named destination. A PDF without
    that box is no letter of this template: refused, rather than signed invisibly, so every letter shows whose
    signature it carries."""
    try:
        writer = _MetadataKeepingWriter.from_reader(_IndexedReader(pdf))
    except Exception as e:
        raise SigningError(f"the letter cannot be read for signing: {type(e).__name__}: {e}") from None
    place = _destination(writer, ANCHOR)
    if place is None:
        raise SigningError(f"the letter has no signature box (the named destination {ANCHOR!r}); render it again")
    page, x, top = place
    box = (round(x), round(top) - FIELD_HEIGHT_PT, round(x) + FIELD_WIDTH_PT, round(top))
    spec = fields.SigFieldSpec(sig_field_name=FIELD_NAME, on_page=page, box=box)
    tag: dict[str, Any] = {
        "page": page,
        "alt": f"Electronic signature: signed for {office} by {name} at {when.strftime(TIME_FORMAT)}.",
        "params": {"office": office, "signer": name},
    }
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=f"Landing-zone letter of the {office}",
        ),
        cached_signer(config),
        timestamper=_timestamper(config.tsa_url) if config.tsa_url else None,
        stamp_style=_stamp_style("".join(sorted(set(office + name) - set(PRINTABLE_ASCII)))),
        new_field_spec=spec,
    )
    data, digest, cms_der = asyncio.run(_sign(config, pdf_signer, writer, when, **tag))
    problems = [*archival_problems(writer), *_signature_problems(data, digest, cms_der, cached_signer(config))]
    if problems:
        raise SigningError("the signed letter is not as it must be: " + "; ".join(problems))
    return data


def _may_heal(error: BaseException) -> bool:
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    if isinstance(error, TimestampRequestError | OSError | TimeoutError):
        return True
    try:
        from pkcs11.exceptions import PKCS11Error
    except ImportError:  # python-pkcs11 missing: no token in use
        return False
    return isinstance(error, PKCS11Error)


def _signature_problems(data: bytes, digest: PreparedByteRangeDigest, cms_der: bytes, signer: Signer) -> list[str]:
    """What is wrong with the signature just written, checked on the bytes as written rather than by parsing the
    file again (which took a quarter of signing): its byte range is all of the file but the signature's own hex
    string, those bytes hash to what was signed, the hex string holds the CMS, and pyHanko's integrity check of
    the CMS over that digest passes."""
    start, end = digest.reserved_region_start, digest.reserved_region_end
    problems = []
    written = BYTE_RANGE.search(data, end, end + BYTE_RANGE_WINDOW)
    if written is None:  # a pyHanko that writes /ByteRange before /Contents
        before = list(BYTE_RANGE.finditer(data, max(0, start - BYTE_RANGE_WINDOW), start))
        written = before[-1] if before else None
    covered = (0, start, end, len(data) - end)
    if written is None or tuple(int(n) for n in written.groups()) != covered or data[start : start + 1] != b"<":
        problems.append("the signature does not cover the whole file")
    view = memoryview(data)
    actual = hashlib.sha256(view[:start])
    actual.update(view[end:])
    if actual.digest() != digest.document_digest:
        problems.append("the file changed after it was signed")
    try:
        contents = bytes.fromhex(data[start + 1 : end - 1].decode("ascii"))
    except ValueError:
        contents = b""
    if contents[: len(cms_der)] != cms_der:
        problems.append("the signature written is not the one made")
    signer_info = cms.ContentInfo.load(cms_der)["content"]["signer_infos"][0]
    intact, valid = validate_sig_integrity(signer_info, signer.signing_cert, "data", actual.digest())
    if not (intact and valid):
        problems.append("the signature does not verify")
    return problems


def archival_problems(letter: bytes | PdfFileReader | BasePdfFileWriter) -> list[str]:
    """What is missing of the PDF/A-3a claim (XMP), MarkInfo and the structure tree (in a signed letter, or in the
    writer that just wrote its signature: the document as the incremental update leaves it)."""
    reader = letter if not isinstance(letter, bytes) else PdfFileReader(io.BytesIO(letter), strict=False)
    root = reader.root
    problems = []
    metadata = root.get("/Metadata")
    xmp = metadata.get_object().data if metadata is not None else b""
    if b'pdfaid:part="3"' not in xmp and b"<pdfaid:part>3<" not in xmp:
        problems.append("the XMP metadata no longer claims PDF/A-3")
    if b'pdfaid:conformance="A"' not in xmp and b"<pdfaid:conformance>A<" not in xmp:
        problems.append("the XMP metadata no longer claims conformance level A")
    mark = root.get("/MarkInfo")
    if mark is None or not bool(mark.get_object().get("/Marked")):
        problems.append("MarkInfo no longer says the letter is tagged")
    if "/StructTreeRoot" not in root:
        problems.append("the structure tree is gone")
    return problems
