"""Which languages scheduling knows: ISO 639-1 codes and the few ISO 639-3 codes UK
coaching services meet that have no two-letter code (Sylheti, Cantonese, Mirpuri...).

A tag is known when its primary subtag is (`pa-IN`, `pa-Arab-PK` → `pa`). An unknown one is
refused at the edge rather than silently matched to nobody.
"""

_TWO_LETTER = """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr
    cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he
    hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks
    ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn
    no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn
    so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa
    wo xh yi yo za zh zu"""
_THREE_LETTER = """syl yue cmn hak nan ckb kmr sdh prs pnb skr hnd mup bfz tcy kok mai bho awa
    raj mwr lah gsw sgn bfi ase fil hmn rom"""
ISO_639_1 = frozenset(_TWO_LETTER.split())
ISO_639_3_EXTRA = frozenset(_THREE_LETTER.split())
KNOWN_LANGUAGES = ISO_639_1 | ISO_639_3_EXTRA


def is_known(tag: str) -> bool:
    """`tag` is normalised (lower case, hyphens)."""
    return tag.split("-", 1)[0] in KNOWN_LANGUAGES
