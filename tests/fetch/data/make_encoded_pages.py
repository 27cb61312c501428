#!/usr/bin/python3
"""Writes the pages of the encodings integration test (tests/fetch/encodings_integration_test.cpp)
and what `corun fetch` must make of each.

usage: make_encoded_pages.py OUT_DIR [WHATWG_DIR]

OUT_DIR/www/<name>        the bytes nginx serves
OUT_DIR/expected/<name>   the text a browser shows, as UTF-8 (no BOM)
OUT_DIR/nginx.conf        location blocks to paste inside nginx's server { } (HTTP charsets)
OUT_DIR/manifest.json     [{"name", "encoding", "source", "http_charset"}]: the encoding the
                          WHATWG rules pick for the page with --encoding auto and the step
                          that picks it ("bom", "http", "meta", "utf8"); and, under
                          "override", the same for a run with --encoding shift_jis.

The pages are encoded with Python's codecs, and the expected text is the text that went in.
That is only right where Python's codecs and the WHATWG decoders agree, so with WHATWG_DIR
(third_party/whatwg-encoding) every multi-byte page is decoded again here by the standard's
own index files (valid input only, which is all these pages hold) and must give the same
text; the script stops otherwise. Characters are chosen where the two agree: no 0x5C/0x7E
in Shift_JIS, no Big5 pointers that decode to two code points, no 0x80/0x98 single bytes.
"""
import json
import os
import sys

# Text per script. Kept to characters in the standard ranges of each legacy encoding.
HANZI_S = "楼盘详情房价走势户型图周边配套交通物业开发商绿化率容积率车位装修标准均价万元平方米北京上海广州深圳"
HANZI_T = "臺灣繁體中文資料測試網頁內容樓盤詳情房價走勢戶型圖周邊配套交通物業開發商"
JAPANESE = "日本語のテキストです。東京都の天気は晴れ、カタカナとひらがな。ｶﾀｶﾅ半角"
KOREAN = "한국어 텍스트 페이지입니다. 서울특별시 날씨는 맑음. 漢字도 있습니다"
CYRILLIC = "Русский текст страницы: Москва, погода ясная. Ёжик и щука, «кавычки» — тире №5"
MIXED = "Ünïcödé ŧëxţ: 中文 日本語 한국어 Ελληνικά עברית 😀 €"


def page(meta, title, body):
    return (f"<!DOCTYPE html>\n<html><head>{meta}<title>{title}</title></head>\n"
            f"<body><h1>{title}</h1>\n<p>{body}</p>\n<p>ASCII: a-z 0-9 &amp; &lt;tag&gt; \"quotes\" 'apostrophes'</p>\n"
            "</body></html>\n")


def pages():
    """(name, bytes, expected text, encoding, source, http charset or None)."""
    out = []

    def add(name, text, codec, encoding, source, http=None, prefix=b""):
        out.append((name, prefix + text.encode(codec), text, encoding, source, http))

    t = page('<meta charset="gb18030">', "楼盘 gb18030", HANZI_S * 3 + " ÿé€ 😀 𠀀 ")
    add("gb18030-meta-charset.html", t, "gb18030", "gb18030", "meta")
    # The motivating pages: GBK bytes behind an http-equiv meta that says gb2312 (-> GBK).
    t = page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "楼盘 1", HANZI_S * 4)
    add("gbk-http-equiv-gb2312.html", t, "gbk", "GBK", "meta")
    t = page("<meta charset=big5>", "臺灣 big5", HANZI_T * 4)
    add("big5-meta.html", t, "big5", "Big5", "meta")
    t = page('<meta http-equiv=content-type content="text/html;charset=x-sjis">', "東京 sjis", JAPANESE * 4)
    add("shift_jis-meta-x-sjis.html", t, "shift_jis", "Shift_JIS", "meta")
    t = page('<meta charset="ks_c_5601-1987">', "서울 euc-kr", KOREAN * 4)
    add("euc-kr-meta.html", t, "euc_kr", "EUC-KR", "meta")
    t = page("", "Москва", CYRILLIC * 4)
    add("windows-1251-http.html", t, "cp1251", "windows-1251", "http", http="windows-1251")
    # The transport's charset beats <meta>.
    t = page('<meta charset="gb2312">', "Москва", CYRILLIC * 2)
    add("http-beats-meta.html", t, "cp1251", "windows-1251", "http", http="windows-1251")
    # A BOM beats both.
    t = page('<meta charset="gb2312">', "BOM", MIXED * 3)
    add("utf8-bom-beats-http.html", t, "utf-8", "UTF-8", "bom", http="windows-1251", prefix=b"\xef\xbb\xbf")
    t = page('<meta charset="utf-8">', "UTF-8", MIXED * 3)
    add("utf8-meta.html", t, "utf-8", "UTF-8", "meta")
    # A UTF-16 label in <meta> means UTF-8 (the prescan's rule).
    t = page('<meta charset="utf-16">', "UTF-8 labelled utf-16", MIXED * 2)
    add("utf8-meta-utf16-label.html", t, "utf-8", "UTF-8", "meta")
    t = page("", "UTF-8 undeclared", MIXED * 3)
    add("utf8-undeclared.html", t, "utf-8", "UTF-8", "utf8")
    t = page("", "UTF-16LE", MIXED * 3)
    add("utf16le-bom.html", t, "utf-16-le", "UTF-16LE", "bom", prefix=b"\xff\xfe")
    t = page("", "UTF-16BE", MIXED * 3)
    add("utf16be-bom.html", t, "utf-16-be", "UTF-16BE", "bom", prefix=b"\xfe\xff")

    # Malformed UTF-8 under a utf-8 meta: one U+FFFD per maximal bad subpart, the same in
    # Python and in the standard (0xFF; a truncated 3-byte sequence; a lone continuation).
    head = page('<meta charset="utf-8">', "bad bytes", "before").encode()
    raw = head + b"A\xffB\xe4\xb8C\x80D" + "中文".encode() + b"\n"
    out.append(("utf8-meta-malformed.html", raw, raw.decode("utf-8", "replace"), "UTF-8", "meta", None))
    return out


def override_pages():
    """Pages for the --encoding shift_jis run: the override beats HTTP and <meta>, not a BOM."""
    t = page('<meta charset="gb2312">', "東京 override", JAPANESE * 3)
    return [
        ("override-beats-http.html", t.encode("shift_jis"), t, "Shift_JIS", "override", "windows-1251"),
        ("override-loses-to-bom.html", b"\xef\xbb\xbf" + (page("", "BOM", MIXED)).encode(), page("", "BOM", MIXED),
         "UTF-8", "bom", None),
    ]


# --- the WHATWG decoders, for valid input, straight from the index files ---------------

def load_index(whatwg, name):
    table = {}
    for line in open(os.path.join(whatwg, f"index-{name}.txt"), encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pointer, cp = line.split()[:2]
        table[int(pointer)] = int(cp, 16)
    return table


def gb18030_ranges(whatwg):
    rs = []
    for line in open(os.path.join(whatwg, "index-gb18030-ranges.txt"), encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            p, cp = line.split()[:2]
            rs.append((int(p), int(cp, 16)))
    return sorted(rs)


def decode_gb18030(data, index, ranges):
    out, i = [], 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            out.append(chr(b)); i += 1
        elif b == 0x80:
            out.append("\u20ac"); i += 1
        elif 0x30 <= data[i + 1] <= 0x39:
            b2, b3, b4 = data[i + 1], data[i + 2], data[i + 3]
            p = (((b - 0x81) * 10 + (b2 - 0x30)) * 126 + (b3 - 0x81)) * 10 + (b4 - 0x30)
            if 189000 <= p <= 1237575:
                out.append(chr(0x10000 + p - 189000))
            elif p == 7457:
                out.append("\ue7c7")
            else:
                rp, rcp = max(r for r in ranges if r[0] <= p)
                out.append(chr(rcp + p - rp))
            i += 4
        else:
            t = data[i + 1]
            p = (b - 0x81) * 190 + (t - (0x40 if t < 0x7F else 0x41))
            out.append(chr(index[p])); i += 2
    return "".join(out)


def decode_big5(data, index):
    out, i = [], 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            out.append(chr(b)); i += 1
            continue
        t = data[i + 1]
        p = (b - 0x81) * 157 + (t - (0x40 if t < 0x7F else 0x62))
        if p in (1133, 1135, 1164, 1166):
            raise ValueError("Big5 pointer that decodes to two code points")
        out.append(chr(index[p])); i += 2
    return "".join(out)


def decode_shift_jis(data, index):
    out, i = [], 0
    while i < len(data):
        b = data[i]
        if b <= 0x80:
            if b in (0x5C, 0x7E):
                raise ValueError("0x5C/0x7E: Python's shift_jis and the standard disagree there")
            out.append(chr(b)); i += 1
        elif 0xA1 <= b <= 0xDF:
            out.append(chr(0xFF61 - 0xA1 + b)); i += 1
        else:
            t = data[i + 1]
            p = (b - (0x81 if b < 0xA0 else 0xC1)) * 188 + t - (0x40 if t < 0x7F else 0x41)
            if 8836 <= p <= 10715:
                raise ValueError("Shift_JIS EUDC")
            out.append(chr(index[p])); i += 2
    return "".join(out)


def decode_euc_kr(data, index):
    out, i = [], 0
    while i < len(data):
        b = data[i]
        if b < 0x80:
            out.append(chr(b)); i += 1
        else:
            out.append(chr(index[(b - 0x81) * 190 + data[i + 1] - 0x41])); i += 2
    return "".join(out)


def decode_single_byte(data, index):
    return "".join(chr(b) if b < 0x80 else chr(index[b - 0x80]) for b in data)


def whatwg_decode(whatwg, encoding, data):
    if encoding in ("gb18030", "GBK"):
        return decode_gb18030(data, load_index(whatwg, "gb18030"), gb18030_ranges(whatwg))
    if encoding == "Big5":
        return decode_big5(data, load_index(whatwg, "big5"))
    if encoding == "Shift_JIS":
        return decode_shift_jis(data, load_index(whatwg, "jis0208"))
    if encoding == "EUC-KR":
        return decode_euc_kr(data, load_index(whatwg, "euc-kr"))
    if encoding == "windows-1251":
        return decode_single_byte(data, load_index(whatwg, "windows-1251"))
    return None  # UTF-8 / UTF-16: Python's codecs are the standard's there


def main():
    out = sys.argv[1]
    whatwg = sys.argv[2] if len(sys.argv) > 2 and os.path.isdir(sys.argv[2]) else None
    os.makedirs(os.path.join(out, "www"), exist_ok=True)
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    manifest = {"auto": [], "override": []}
    conf = []
    for group, items in (("auto", pages()), ("override", override_pages())):
        for name, data, text, encoding, source, http in items:
            if whatwg:
                body = data[3:] if source == "bom" and encoding == "UTF-8" else data
                theirs = whatwg_decode(whatwg, encoding, body)
                if theirs is not None and theirs != text:
                    sys.exit(f"{name}: the WHATWG index decodes it differently from Python; pick other characters")
            with open(os.path.join(out, "www", name), "wb") as f:
                f.write(data)
            with open(os.path.join(out, "expected", name), "wb") as f:
                f.write(text.encode("utf-8"))
            if http:
                conf.append(f"location = /{name} {{ charset {http}; }}")
            manifest[group].append({"name": name, "encoding": encoding, "source": source, "http_charset": http})
    with open(os.path.join(out, "nginx.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{sum(len(v) for v in manifest.values())} pages, checked against WHATWG: {bool(whatwg)}")


if __name__ == "__main__":
    main()
