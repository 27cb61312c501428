#!/usr/bin/python3
"""The test suite's own corpus of GB18030 listing pages (no file outside the repository).

usage: make_corpus.py DIR [COUNT] [SEED]

Writes DIR/p/0.html .. DIR/p/{COUNT-1}.html and DIR/urls.txt (their paths relative to the
server root, one per line: /p/17.html), the layout of the benchmark corpus, so a test can
serve DIR with nginx and fetch urls.txt as the benchmarks do. Each page is Chinese
real-estate text (~12 KB) under <meta http-equiv="Content-Type" content="text/html;
charset=gb2312">, encoded by Python's gb18030 codec; every fifth page carries characters
outside GBK (the four-byte ranges and a supplementary-plane character), so both GB18030
paths are exercised. The same COUNT and SEED always give the same bytes.
"""
import os
import random
import sys

WORDS = "楼盘详情房价走势户型图周边配套交通物业开发商绿化率容积率车位装修标准均价万元平方米北京上海广州深圳朝阳区海淀区"
OUTSIDE_GBK = "€䶮𠀀"


def page(rng, i):
    text = "".join(rng.choice(WORDS) for _ in range(6000))
    extra = OUTSIDE_GBK if i % 5 == 0 else ""
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
            f"<title>楼盘 {i}</title></head><body><h1>{i}{extra}</h1><p>{text}</p></body></html>")
    return html.encode("gb18030")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    os.makedirs(os.path.join(root, "p"), exist_ok=True)
    with open(os.path.join(root, "urls.txt"), "w") as urls:
        for i in range(count):
            with open(os.path.join(root, "p", f"{i}.html"), "wb") as f:
                f.write(page(rng, i))
            urls.write(f"/p/{i}.html\n")


if __name__ == "__main__":
    main()
