#!/usr/bin/env python3
"""Makes a harder data set from generated NDJSON: every object gains a
"note" member of 100-900 characters of mixed scripts (Latin with accents,
Cyrillic, Greek, CJK, emoji) and a nested "attrs" object, so events are
larger and mostly non-ASCII. Lines that are not JSON objects (the
generator's bad events) are passed through unchanged. Deterministic.

usage: variant.py < events.jsonl > harder.jsonl
"""
import random
import sys

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz ",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ ",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя ",
    "αβγδεζηθικλμνξοπρστυφχψω ",
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该由 ",
    "😀🎉🚀✨🔥💡📦🧪 ",
]


def note(rng):
    n = rng.randint(100, 900)
    out = []
    while len(out) < n:
        a = rng.choice(ALPHABETS)
        out.extend(rng.choice(a) for _ in range(rng.randint(5, 40)))
    return "".join(out[:n])


def main():
    rng = random.Random(7)
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\n")
        if not (line.startswith(b"{") and line.endswith(b"}")) or line == b"{}":
            out.write(raw if raw.endswith(b"\n") else raw + b"\n")
            continue
        extra = ',"note":"%s","attrs":{"k%d":"%s","n":%d,"ok":true}' % (
            note(rng), rng.randint(0, 99), note(rng)[:60], rng.randint(0, 10**9))
        out.write(line[:-1] + extra.encode("utf-8") + b"}\n")


main()
