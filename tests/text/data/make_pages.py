#!/usr/bin/python3
"""Regenerates tests/text/data/pages/: real-shaped pages for the differential tests and
the fuzz seed corpus.

usage: make_pages.py [CORPUS_GENERATOR]

- corpus-N.html: the first three pages of tests/support/make_corpus.py (GB18030 bytes,
  meta charset=gb2312), seed 1; CORPUS_GENERATOR names another make_corpus.py-style
  script (the benchmark corpus's, say). The committed corpus-N.html were made with the
  benchmark corpus's generator; they are data, kept as they are.
- sample-<encoding>.html: a short page of prose in a language the encoding is used for,
  encoded by Python's codecs; MANIFEST lists file, WHATWG label, Python codec.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pages")

ZH = "楼盘详情：北京市朝阳区的新房均价为每平方米六万元，交通便利，周边配套齐全。开发商承诺明年交房。"
ZH_TW = "這是一個繁體中文的範例。臺北市的天氣晴朗，明天可能會下雨。我們討論了新的專案計畫與時程安排。"
JA = "日本語の文章です。東京都の天気は晴れ、明日は雨が降るでしょう。私たちは新しい計画について話し合いました。"
KO = "안녕하세요. 이것은 한국어 문장입니다. 서울의 날씨는 맑고 내일은 비가 올 것입니다."
RU = "Привет, мир! Это пример русского текста. Москва является столицей России, а Нева течёт в Петербурге."
FR = "Le café de la gare était fermé à cause de la grève ; les élèves ont marché jusqu'à l'école « Molière »."
PL = "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig. Łódź jest dużym miastem w Polsce."
AR = "مرحبا بالعالم. هذا نص عربي قصير للاختبار، يتحدث عن الطقس في القاهرة ودمشق."
EL = "Γειά σου κόσμε! Αυτό είναι ένα ελληνικό κείμενο για δοκιμή. Η Αθήνα είναι η πρωτεύουσα."
HE = "שלום עולם! זהו טקסט בעברית לבדיקה. ירושלים היא עיר עתיקה."

SAMPLES = [
    # file stem, WHATWG label, Python codec, text
    ("gb18030", "gb18030", "gb18030", ZH),
    ("gbk", "gbk", "gbk", ZH),
    ("big5", "big5", "big5hkscs", ZH_TW),
    ("shift_jis", "shift_jis", "cp932", JA),
    ("euc-jp", "euc-jp", "euc_jp", JA),
    ("iso-2022-jp", "iso-2022-jp", "iso2022_jp", JA),
    ("euc-kr", "euc-kr", "cp949", KO),
    ("windows-1251", "windows-1251", "cp1251", RU),
    ("koi8-r", "koi8-r", "koi8_r", RU),
    ("windows-1252", "windows-1252", "cp1252", FR),
    ("iso-8859-2", "iso-8859-2", "iso8859_2", PL),
    ("windows-1256", "windows-1256", "cp1256", AR),
    ("windows-1253", "windows-1253", "cp1253", EL),
    ("windows-1255", "windows-1255", "cp1255", HE),
    ("utf-8", "utf-8", "utf-8", ZH + JA + KO + RU),
    ("utf-16le", "utf-16le", "utf-16-le", ZH + RU),
    ("utf-16be", "utf-16be", "utf-16-be", JA + EL),
]


def main():
    generator = (sys.argv[1] if len(sys.argv) > 1 else
                 os.path.join(HERE, "..", "..", "support", "make_corpus.py"))
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["/usr/bin/python3", generator, tmp, "3", "1"],
                       check=True)
        for i in range(3):
            shutil.copy(os.path.join(tmp, "p", f"{i}.html"), os.path.join(OUT, f"corpus-{i}.html"))
    with open(os.path.join(OUT, "MANIFEST"), "w") as manifest:
        for i in range(3):
            manifest.write(f"corpus-{i}.html gbk gb18030\n")
        for stem, label, codec, text in SAMPLES:
            meta = "" if label.startswith("utf-16") else f'<meta charset="{label}">'
            page = (f"<!DOCTYPE html>\n<html><head>{meta}<title>{stem}</title></head>\n"
                    f"<body><h1>{stem}</h1>\n<p>{text}</p>\n<p>{text[::-1]}</p>\n</body></html>\n")
            with open(os.path.join(OUT, f"sample-{stem}.html"), "wb") as f:
                f.write(page.encode(codec))
            manifest.write(f"sample-{stem}.html {label} {codec}\n")


if __name__ == "__main__":
    main()
