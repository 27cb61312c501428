#!/usr/bin/python3
"""Generates corun::text's lookup tables from the WHATWG Encoding Standard data.

usage: gen_text_tables.py WHATWG_DIR OUT_DIR

Reads encodings.json and every index-*.txt in WHATWG_DIR (third_party/whatwg-encoding)
and writes OUT_DIR/text_tables.hpp (declarations, sizes) and OUT_DIR/text_tables.cpp
(the data). Nothing here is a mapping typed by hand: every number comes from the
files. Tables are pointer-indexed exactly as the standard defines "index code point
for pointer"; 0 marks a pointer the index does not list (no index maps a non-ASCII
pointer to U+0000), so the decoders test one value for "null".

Layouts:
  single-byte   uint16[28][128], one row per single-byte encoding in encodings.json
                order (Encoding::ibm866 .. Encoding::x_mac_cyrillic).
  gb18030       uint16[23940] plus the 207 four-byte ranges (pointer, code point).
  big5          uint16 low bits + one bit per pointer "add 0x20000": every non-BMP
                code point of index big5 is in plane 2 (checked here), which halves
                the table against uint32.
  jis0208, jis0212, euc-kr, iso-2022-jp-katakana: uint16 (all BMP, checked here).
The build fails loudly if the data ever breaks one of these assumptions.
"""
import json
import os
import sys


def read_index(path):
    entries = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            pointer, cp = int(fields[0]), int(fields[1], 16)
            if pointer in entries:
                sys.exit(f"{path}: pointer {pointer} listed twice")
            entries[pointer] = cp
    return entries


def enumerator(name):
    return name.lower().replace("-", "_")


def dense(entries, size, path, bmp_only=True):
    table = [0] * size
    for pointer, cp in entries.items():
        if pointer >= size:
            sys.exit(f"{path}: pointer {pointer} beyond table size {size}")
        if cp == 0:
            sys.exit(f"{path}: pointer {pointer} maps to U+0000, which the tables use as null")
        if bmp_only and cp > 0xFFFF:
            sys.exit(f"{path}: pointer {pointer} maps to non-BMP U+{cp:X}; table is uint16")
        table[pointer] = cp
    return table


def emit_array(out, ctype, name, values, per_line=16, width=4):
    out.append(f"const {ctype} {name}[{len(values)}] = {{")
    for i in range(0, len(values), per_line):
        chunk = values[i:i + per_line]
        out.append("    " + ", ".join(f"0x{v:0{width}X}" for v in chunk) + ",")
    out.append("};")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "encodings.json"), encoding="utf-8") as f:
        groups = json.load(f)
    encodings = [e for g in groups for e in g["encodings"]]
    single_byte = [e["name"] for g in groups if g["heading"] == "Legacy single-byte encodings"
                   for e in g["encodings"]]

    labels = []
    for e in encodings:
        for label in e["labels"]:
            if label != label.strip().lower():
                sys.exit(f"label {label!r} is not lower-case and trimmed")
            labels.append((label, enumerator(e["name"])))
    labels.sort()
    for a, b in zip(labels, labels[1:]):
        if a[0] == b[0]:
            sys.exit(f"label {a[0]!r} listed twice")

    def index(name):
        return os.path.join(src, f"index-{name}.txt")

    single_rows = []
    for name in single_byte:
        file_name = "iso-8859-8" if name.lower() == "iso-8859-8-i" else name.lower()
        single_rows.append((name, dense(read_index(index(file_name)), 128, index(file_name))))

    gb = read_index(index("gb18030"))
    gb_table = dense(gb, 23940, index("gb18030"))
    ranges = sorted(read_index(index("gb18030-ranges")).items())

    big5 = read_index(index("big5"))
    big5_size = 126 * 157
    big5_low = [0] * big5_size
    big5_plane2 = [0] * ((big5_size + 63) // 64)
    for pointer, cp in big5.items():
        if pointer >= big5_size or cp == 0:
            sys.exit(f"index-big5: unexpected entry {pointer} -> {cp:X}")
        if cp > 0xFFFF:
            if not 0x20000 <= cp <= 0x2FFFF:
                sys.exit(f"index-big5: U+{cp:X} is outside the BMP and plane 2")
            big5_plane2[pointer // 64] |= 1 << (pointer % 64)
        big5_low[pointer] = cp & 0xFFFF
        if big5_low[pointer] == 0:
            sys.exit(f"index-big5: pointer {pointer} low bits are 0 (clash with null)")

    # EUC-JP/ISO-2022-JP reach jis0208 pointers < 94*94, Shift_JIS up to 188*60.
    jis0208 = read_index(index("jis0208"))
    jis0208_table = dense(jis0208, max(jis0208) + 1, index("jis0208"))
    jis0212 = read_index(index("jis0212"))
    jis0212_table = dense(jis0212, max(jis0212) + 1, index("jis0212"))
    euckr = read_index(index("euc-kr"))
    euckr_table = dense(euckr, max(euckr) + 1, index("euc-kr"))
    kata = read_index(index("iso-2022-jp-katakana"))
    kata_table = dense(kata, max(kata) + 1, index("iso-2022-jp-katakana"))

    hpp = [
        "// Generated by tools/gen_text_tables.py from the WHATWG Encoding Standard data.",
        "// Do not edit: edit the generator. See the generator for the table layouts.",
        "#pragma once",
        "",
        "#include <cstddef>",
        "#include <cstdint>",
        "#include <string_view>",
        "",
        '#include "corun/text/encoding.hpp"',
        "",
        "namespace corun::text::detail {",
        "",
        f"inline constexpr std::size_t kEncodingCount = {len(encodings)};",
        "extern const std::string_view kNames[kEncodingCount];",
        "",
        "struct LabelEntry {",
        "  std::string_view label;",
        "  Encoding encoding;",
        "};",
        f"inline constexpr std::size_t kLabelCount = {len(labels)};",
        f"inline constexpr std::size_t kMaxLabelLength = {max(len(l) for l, _ in labels)};",
        "// Sorted by label (byte order), for binary search.",
        "extern const LabelEntry kLabels[kLabelCount];",
        "",
        f"inline constexpr Encoding kFirstSingleByte = Encoding::{enumerator(single_byte[0])};",
        f"inline constexpr std::size_t kSingleByteCount = {len(single_byte)};",
        "// Row: encoding - kFirstSingleByte; column: byte - 0x80; 0 = null.",
        "extern const std::uint16_t kSingleByte[kSingleByteCount][128];",
        "",
        f"inline constexpr std::size_t kGb18030Size = {len(gb_table)};",
        "extern const std::uint16_t kGb18030[kGb18030Size];",
        f"inline constexpr std::size_t kGb18030RangesSize = {len(ranges)};",
        "extern const std::uint32_t kGb18030RangePointers[kGb18030RangesSize];",
        "extern const std::uint32_t kGb18030RangeCodePoints[kGb18030RangesSize];",
        "",
        f"inline constexpr std::size_t kBig5Size = {big5_size};",
        "// Code point = kBig5Low[p] + (bit p of kBig5Plane2 ? 0x20000 : 0); 0 = null.",
        "extern const std::uint16_t kBig5Low[kBig5Size];",
        "extern const std::uint64_t kBig5Plane2[(kBig5Size + 63) / 64];",
        "",
        f"inline constexpr std::size_t kJis0208Size = {len(jis0208_table)};",
        "extern const std::uint16_t kJis0208[kJis0208Size];",
        f"inline constexpr std::size_t kJis0212Size = {len(jis0212_table)};",
        "extern const std::uint16_t kJis0212[kJis0212Size];",
        f"inline constexpr std::size_t kEucKrSize = {len(euckr_table)};",
        "extern const std::uint16_t kEucKr[kEucKrSize];",
        f"inline constexpr std::size_t kIso2022JpKatakanaSize = {len(kata_table)};",
        "extern const std::uint16_t kIso2022JpKatakana[kIso2022JpKatakanaSize];",
        "",
        "}  // namespace corun::text::detail",
        "",
    ]

    cpp = [
        "// Generated by tools/gen_text_tables.py from the WHATWG Encoding Standard data.",
        "// Do not edit: edit the generator.",
        '#include "text_tables.hpp"',
        "",
        "namespace corun::text::detail {",
        "",
        "// The Encoding enum (corun/text/encoding.hpp) must follow encodings.json order.",
    ]
    for i, e in enumerate(encodings):
        cpp.append(f"static_assert(static_cast<int>(Encoding::{enumerator(e['name'])}) == {i});")
    cpp.append("")
    cpp.append("const std::string_view kNames[kEncodingCount] = {")
    for e in encodings:
        cpp.append(f'    "{e["name"]}",')
    cpp.append("};")
    cpp.append("")
    cpp.append("const LabelEntry kLabels[kLabelCount] = {")
    for label, enc in labels:
        cpp.append(f'    {{"{label}", Encoding::{enc}}},')
    cpp.append("};")
    cpp.append("")
    cpp.append("const std::uint16_t kSingleByte[kSingleByteCount][128] = {")
    for name, row in single_rows:
        cpp.append(f"    // {name}")
        cpp.append("    {")
        for i in range(0, 128, 16):
            cpp.append("        " + ", ".join(f"0x{v:04X}" for v in row[i:i + 16]) + ",")
        cpp.append("    },")
    cpp.append("};")
    cpp.append("")
    emit_array(cpp, "std::uint16_t", "kGb18030", gb_table)
    emit_array(cpp, "std::uint32_t", "kGb18030RangePointers", [p for p, _ in ranges], 8, 6)
    emit_array(cpp, "std::uint32_t", "kGb18030RangeCodePoints", [c for _, c in ranges], 8, 6)
    emit_array(cpp, "std::uint16_t", "kBig5Low", big5_low)
    emit_array(cpp, "std::uint64_t", "kBig5Plane2", big5_plane2, 4, 16)
    emit_array(cpp, "std::uint16_t", "kJis0208", jis0208_table)
    emit_array(cpp, "std::uint16_t", "kJis0212", jis0212_table)
    emit_array(cpp, "std::uint16_t", "kEucKr", euckr_table)
    emit_array(cpp, "std::uint16_t", "kIso2022JpKatakana", kata_table)
    cpp.append("")
    cpp.append("}  // namespace corun::text::detail")
    cpp.append("")

    for name, lines in (("text_tables.hpp", hpp), ("text_tables.cpp", cpp)):
        path = os.path.join(dst, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
