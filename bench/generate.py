"""Deterministic generator of realistic B2B marketplace listings for benchmarks.

    python bench/generate.py N OUT.jsonl [--seed S]

`generate(n, seed=0)` yields `n` listing dicts in the CONTRACT shape: ~700 characters of
title + description, mostly ordinary products across many categories, about 3 % risky
ones (e-liquid, vape hardware, sexual-enhancement claims, controlled instruments,
class III devices), some Chinese and other-language text, some HTML. Every listing
carries `_risk`: the POLICY rule family the text was drawn from, or null (benchmark
bookkeeping only; the scanner ignores unknown fields).

The vocabulary below is written for this file; nothing is drawn from the dev set or
the evaluation-only data. Same (n, seed) -> byte-identical output.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

RISK_RATE = 0.03
HTML_RATE = 0.3
FOREIGN_RATE = 0.12
TARGET_CHARS = 700

# ------------------------------------------------------------------ vocabulary
# (category path, product nouns, typical features)
PRODUCTS: list[tuple[str, list[str], list[str]]] = [
    ("Home & Garden > Kitchen & Tabletop > Drinkware",
     ["vacuum flask", "travel mug", "glass water bottle", "tumbler with straw", "ceramic coffee mug"],
     ["double wall insulation", "leak-proof lid", "BPA free", "keeps drinks cold 24 hours", "dishwasher safe"]),
    ("Home & Garden > Kitchen & Tabletop > Cookware",
     ["non-stick frying pan", "stock pot", "cast iron casserole", "stainless saucepan", "wok with lid"],
     ["induction compatible", "granite coating", "stay-cool handle", "even heat distribution", "oven safe to 220 C"]),
    ("Home & Garden > Kitchen & Tabletop > Kitchen Tools & Utensils",
     ["silicone spatula set", "pepper grinder", "garlic press", "vegetable peeler", "measuring spoon set"],
     ["food grade silicone", "ergonomic grip", "heat resistant", "hanging hole", "rust proof"]),
    ("Home & Garden > Home Textile > Bedding",
     ["duvet cover set", "fitted bed sheet", "microfiber pillow", "weighted blanket", "quilted mattress protector"],
     ["brushed microfiber", "hypoallergenic", "OEKO-TEX certified", "deep pocket", "machine washable"]),
    ("Home & Garden > Home Decor",
     ["artificial flower bouquet", "wall clock", "photo frame", "scented candle", "ceramic vase"],
     ["handmade", "Nordic style", "gift box packing", "soy wax", "matte glaze"]),
    ("Home & Garden > Pet Products",
     ["dog collar", "cat scratching post", "pet water fountain", "dog leash", "pet bed"],
     ["reflective stitching", "quick release buckle", "washable cover", "quiet pump", "adjustable size"]),
    ("Home & Garden > Garden Supplies",
     ["garden hose reel", "solar pathway light", "plant pot", "pruning shears", "watering can"],
     ["UV resistant", "weatherproof", "auto on at dusk", "drainage hole", "SK5 blade"]),
    ("Consumer Electronics > Mobile Phone Accessories",
     ["phone case", "wireless charger", "car charger", "screen protector", "magnetic phone holder"],
     ["shockproof", "15W fast charging", "fits the cigarette lighter socket", "9H tempered glass", "360 degree rotation"]),
    ("Consumer Electronics > Portable Audio & Video",
     ["bluetooth speaker", "wireless earbuds", "over-ear headphones", "karaoke microphone", "sound bar"],
     ["long lasting battery", "deep bass", "IPX7 waterproof", "noise cancelling", "bluetooth 5.3"]),
    ("Consumer Electronics > Smart Electronics",
     ["smart watch", "fitness band", "smart plug", "wifi camera", "video doorbell"],
     ["app control", "heart rate display", "works with voice assistants", "night vision", "two-way audio"]),
    ("Computer Hardware & Software",
     ["mechanical keyboard", "wireless mouse", "USB hub", "laptop stand", "portable SSD"],
     ["RGB backlight", "plug and play", "aluminium alloy", "type-C interface", "silent click"]),
    ("Home Appliances > Kitchen Appliances",
     ["air fryer", "electric kettle", "blender", "rice cooker", "sandwich maker"],
     ["digital touch panel", "auto shut-off", "1500W", "removable basket", "overheat protection"]),
    ("Home Appliances > Air Conditioning Appliances",
     ["ultrasonic humidifier", "tower fan", "dehumidifier", "air purifier", "aroma diffuser"],
     ["quiet operation", "4L water tank", "HEPA filter", "remote control", "timer function"]),
    ("Apparel > Women's Clothing",
     ["maxi dress", "knit cardigan", "denim jacket", "pleated skirt", "linen blouse"],
     ["breathable fabric", "plus sizes available", "custom label", "stretch fit", "printed pattern"]),
    ("Apparel > Men's Clothing",
     ["polo shirt", "cargo pants", "hoodie", "down jacket", "oxford shirt"],
     ["100% cotton", "pre-shrunk", "embroidery logo", "windproof", "slim fit"]),
    ("Luggage, Bags & Cases",
     ["crossbody bag", "laptop backpack", "travel duffel bag", "canvas tote bag", "cosmetic pouch"],
     ["water resistant", "USB charging port", "anti-theft pocket", "adjustable strap", "PU leather"]),
    ("Apparel Accessories > Eyewear",
     ["polarized sunglasses", "blue light glasses", "sports goggles", "reading glasses frame", "kids sunglasses"],
     ["UV400 protection", "TR90 frame", "spring hinge", "anti-scratch coating", "free pouch"]),
    ("Jewelry, Eyewear & Watches",
     ["pendant necklace", "stud earrings", "quartz watch", "charm bracelet", "signet ring"],
     ["925 sterling silver", "18K gold plated", "nickel free", "cubic zirconia", "laser engraving"]),
    ("Beauty & Personal Care > Skin Care",
     ["face serum", "sheet mask", "sunscreen lotion", "body scrub", "lip balm"],
     ["hyaluronic acid", "vitamin C", "cruelty free", "private label", "vegan formula"]),
    ("Beauty & Personal Care > Oral Hygiene",
     ["electric toothbrush", "bamboo toothbrush", "water flosser", "tongue scraper", "toothpaste tablets"],
     ["sonic vibration", "soft bristles", "USB rechargeable", "travel case", "biodegradable handle"]),
    ("Health & Medical > Health Care Supplements",
     ["multivitamin tablets", "vitamin D3 softgels", "collagen powder", "probiotic capsules", "zinc gummies"],
     ["GMP factory", "halal certified", "sugar free", "OEM bottle and label", "third party tested"]),
    ("Food & Beverage",
     ["green tea", "instant coffee", "dark chocolate", "dried mango", "wildflower honey"],
     ["organic certificate", "single origin", "no additives", "vacuum packed", "custom private label"]),
    ("Tools > Hand Tools",
     ["socket wrench set", "utility knife", "screwdriver set", "tape measure", "adjustable spanner"],
     ["chrome vanadium steel", "magnetic tip", "non-slip handle", "blow mould case", "metric and inch"]),
    ("Tools > Power Tools",
     ["cordless drill", "angle grinder", "hot glue gun", "jigsaw", "heat gun"],
     ["brushless motor", "two batteries included", "variable speed", "LED work light", "keyless chuck"]),
    ("Electrical Equipment & Supplies",
     ["cable ties", "circuit breaker", "extension socket", "LED driver", "terminal block"],
     ["flame retardant", "CE and RoHS", "copper contacts", "surge protection", "DIN rail mount"]),
    ("Automobiles & Motorcycles > Auto Replacement Parts",
     ["shock absorber", "brake pads", "air filter", "spark plug", "wiper blade"],
     ["OE quality", "direct fit", "1 year warranty", "low noise", "ECE R90"]),
    ("Construction & Real Estate > Building Materials",
     ["vapor barrier film", "porcelain floor tile", "gypsum board", "waterproof membrane", "WPC decking"],
     ["anti slip", "fire rated", "UV stabilized", "low water absorption", "easy installation"]),
    ("Machinery",
     ["screw air compressor", "bottle filling machine", "fiber laser cutter", "diesel generator", "pallet truck"],
     ["PLC control", "energy saving", "stainless 304 contact parts", "low noise", "CE certified"]),
    ("Packaging & Printing",
     ["mailer box", "stand up pouch", "kraft paper bag", "shrink film", "custom label sticker"],
     ["full color print", "food grade", "resealable zipper", "recyclable", "die cut"]),
    ("Office & School Supplies",
     ["gel pen", "spiral notebook", "desk organizer", "whiteboard marker", "sticky notes"],
     ["quick dry ink", "acid free paper", "custom logo", "refillable", "bright colors"]),
    ("Toys & Hobbies",
     ["building blocks", "plush toy", "RC car", "wooden puzzle", "kids drawing board"],
     ["EN71 tested", "non-toxic paint", "rechargeable battery", "educational", "ages 3+"]),
    ("Sports & Entertainment",
     ["yoga mat", "dumbbell set", "camping tent", "archery target", "cycling helmet"],
     ["non slip", "eco friendly TPE", "waterproof 3000mm", "adjustable weight", "CE EN1078"]),
    ("Furniture",
     ["office chair", "dining table", "shoe rack", "bookshelf", "bar stool"],
     ["knock down packing", "solid wood legs", "easy assembly", "BIFMA tested", "powder coated steel"]),
    ("Lights & Lighting",
     ["LED panel light", "solar street light", "LED strip", "desk lamp", "flood light"],
     ["flicker free", "IP65", "3000K-6500K", "dimmable", "5 year warranty"]),
    ("Agriculture",
     ["drip irrigation kit", "shade net", "organic fertilizer", "seedling tray", "poultry feeder"],
     ["UV stabilized", "high yield", "durable PP", "easy to install", "bulk packing"]),
]

COLOURS = ["black", "white", "navy blue", "grey", "beige", "olive green", "rose gold", "silver", "red",
           "sky blue", "pink", "khaki", "transparent", "wood grain", "matte black"]
MATERIALS = ["stainless steel", "ABS plastic", "aluminium alloy", "silicone", "bamboo", "cotton", "polyester",
             "PU leather", "tempered glass", "zinc alloy", "nylon", "ceramic", "beech wood", "carbon steel"]
SIZES = ["small", "medium", "large", "mini", "XL", "standard size", "compact", "heavy duty"]
TITLE_OPENERS = ["Factory Price", "Hot Sale", "Wholesale", "New Arrival", "Custom Logo", "OEM ODM", "2022 New",
                 "High Quality", "Best Selling", "Amazon Hot", "Direct Factory", "Cheap Price"]
SELLING = [
    "We are a professional manufacturer with more than {n} years of experience.",
    "Our factory covers {k},000 square meters and has {h} skilled workers.",
    "Strict quality control: every piece is inspected before packing.",
    "OEM and ODM orders are welcome, we can print your logo.",
    "Competitive price and fast delivery, your satisfaction is our goal.",
    "Samples can be sent within {n} days for your quality check.",
    "We have passed ISO9001, BSCI and Sedex audits.",
    "Popular in Europe, North America, the Middle East and Southeast Asia.",
    "Welcome to visit our factory or contact us for the latest catalogue.",
    "Customized packaging and barcode labels are available.",
    "Our R&D team launches {n} new designs every month.",
    "After-sales service: free replacement of defective items within {n} months.",
    "Reply within 12 hours, dedicated sales manager for each buyer.",
    "Exported to {n}0 countries since 20{n:02d}.",
]
SHIPPING = [
    "Packaging: 1 pc per polybag, {n}0 pcs per carton.",
    "Shipping by sea, by air or by express (DHL, FedEx, UPS).",
    "Lead time: 7-{n}5 days for stock, 25-35 days for mass production.",
    "Port: Ningbo / Shanghai / Shenzhen. Payment: T/T 30% deposit, balance before shipment.",
    "MOQ: {h} pcs; mixed colors accepted.",
    "Trade Assurance protects your order from payment to delivery.",
    "Carton size {k}x{n}8x30 cm, gross weight {n}2 kg.",
    "Supply ability: {k},000 pieces per month.",
    "Specification: {k}x{n}x{h} mm, net weight {h} g.",
    "Model No. {code}, HS code 39{k}{h}.",
]
# syllables for company and brand names (pinyin-like, written for this file)
SYLLABLES = ["hua", "xin", "da", "feng", "yuan", "tai", "long", "sheng", "jia", "hong", "ming", "rui", "kang",
             "bao", "li", "tong", "hai", "jin", "an", "cheng", "fu", "guang", "hui", "yi", "zhi", "de", "mei"]
CITIES = ["Yiwu", "Ningbo", "Shenzhen", "Guangzhou", "Dongguan", "Xiamen", "Suzhou", "Qingdao", "Hangzhou",
          "Foshan", "Wenzhou", "Jinhua", "Shantou", "Tianjin"]
COMPANY_KINDS = ["Trading Co., Ltd.", "Industrial Co., Ltd.", "Technology Co., Ltd.", "Import & Export Co., Ltd.",
                 "Manufacturing Co., Ltd.", "Houseware Factory"]
ORIGINS = ["Zhejiang, China", "Guangdong, China", "Jiangsu, China", "Fujian, China", "Shandong, China",
           "Hebei, China", "Shanghai, China"]
MARKETS = [["US"], ["US", "CA"], ["DE", "FR", "IT", "ES"], ["GB"], ["JP", "KR"], ["AU", "NZ"],
           ["SA", "AE"], ["BR", "MX"], ["VN", "TH", "ID", "MY"], ["RU", "KZ"]]

# other-language snippets (written for this file): (language, title prefix, description sentence)
FOREIGN = [
    ("zh", "厂家直销 批发", "厂家直销，质量保证，支持定制logo，欢迎询价。"),
    ("zh", "新款 热卖", "本产品采用优质材料，做工精细，全国包邮，量大从优。"),
    ("es", "Venta al por mayor", "Producto de alta calidad directo de fábrica, aceptamos pedidos personalizados."),
    ("pt", "Atacado preço de fábrica", "Produto de alta qualidade, entrega rápida e embalagem personalizada."),
    ("fr", "Vente en gros", "Produit de haute qualité, livraison rapide, logo personnalisé accepté."),
    ("de", "Großhandel Fabrikpreis", "Hochwertiges Produkt direkt vom Hersteller, individuelles Logo möglich."),
    ("ru", "Оптом от производителя", "Высокое качество, быстрая доставка, возможна печать логотипа."),
    ("ar", "بالجملة سعر المصنع", "منتج عالي الجودة مع شحن سريع وإمكانية طباعة الشعار."),
    ("ja", "卸売 工場直販", "高品質な製品です。ロゴのカスタマイズ対応可能です。"),
    ("ko", "도매 공장 직판", "고품질 제품, 빠른 배송, 로고 맞춤 제작 가능합니다."),
    ("tr", "Toptan fabrika fiyatı", "Yüksek kaliteli ürün, hızlı teslimat, özel logo baskısı yapılır."),
    ("vi", "Bán sỉ giá xưởng", "Sản phẩm chất lượng cao, giao hàng nhanh, nhận in logo theo yêu cầu."),
    ("th", "ขายส่ง ราคาโรงงาน", "สินค้าคุณภาพสูง จัดส่งรวดเร็ว รับสกรีนโลโก้"),
    ("id", "Grosir harga pabrik", "Produk berkualitas tinggi, pengiriman cepat, bisa cetak logo sendiri."),
]

# risky items: (POLICY family, category, title, description sentence)
RISKY = [
    ("e_cigarette", "Consumer Electronics > Electronic Cigarettes > E-Liquid",
     "Nic Salt E-Liquid 30ml {n}mg", "Smooth nicotine salt e-liquid, 50/50 VG/PG, fruit and ice flavours."),
    ("e_cigarette", "Consumer Electronics > Electronic Cigarettes > Disposable Vapes",
     "Disposable Vape {n}00 Puffs Pre-filled", "Pre-filled disposable vape with mesh coil and 5% nicotine salt juice."),
    ("e_cigarette", "Consumer Electronics > Mobile Phone Accessories",
     "Replacement Vape Coils 0.{n} ohm Mesh", "Mesh coils for sub ohm tanks and pod mods, 5 pcs per pack."),
    ("e_cigarette", "Consumer Electronics > Electronic Cigarettes > E-Liquid",
     "烟油 电子烟 {n}ml 批发", "水果味烟油，尼古丁盐，厂家直销。"),
    ("sexual_health", "Health & Medical > Health Care Supplements",
     "Male Enhancement Capsules {n} Count", "Herbal formula for stronger erections and long lasting performance."),
    ("sexual_health", "Food & Beverage > Coffee",
     "Energy Coffee for Men {n} Sachets", "Instant coffee with tongkat ali and tadalafil for men's vitality."),
    ("sexual_health", "Health & Medical > Health Care Supplements",
     "Royal Honey VIP {n}g Sachets", "Honey with herbal extract, boosts libido and stamina, aphrodisiac for couples."),
    ("controlled_instrument", "Sports & Entertainment > Hunting",
     "Compound Crossbow {n}0 lbs with Scope", "Hunting crossbow package with bolts, quiver and rope cocker."),
    ("controlled_instrument", "Security & Protection > Self Defense Supplies",
     "Stun Gun Flashlight Model {n}", "Rechargeable stun gun with LED torch and safety switch."),
    ("controlled_instrument", "Security & Protection > Police & Military Supplies",
     "Police Handcuffs Double Lock {n}", "Carbon steel handcuffs with two keys, nickel plated."),
    ("controlled_instrument", "Sports & Entertainment > Camping & Hiking > Outdoor Knives",
     "Automatic OTF Knife D2 Blade {n}", "Double action out-the-front knife with aluminium handle."),
    ("controlled_instrument", "Security & Protection > Self Defense Supplies",
     "Expandable Baton 2{n} Inch", "Telescopic steel baton with holster for self defense."),
    ("medical_device", "Medical Devices & Supplies > Ophthalmic Supplies > Contact Lenses",
     "Colored Contact Lenses Yearly {n} Pairs", "Cosmetic coloured contact lenses, 14.2 mm, many patterns."),
    ("medical_device", "Medical Devices & Supplies > Respiratory Equipment > Ventilators",
     "ICU Ventilator Model V{n}", "Invasive and non-invasive ventilator with touch screen and battery."),
]


def _company(rng: random.Random) -> str:
    name = "".join(rng.sample(SYLLABLES, 2)).title()
    return f"{rng.choice(CITIES)} {name} {rng.choice(COMPANY_KINDS)}"


def _code(rng: random.Random) -> str:
    return f"{rng.choice('ABCDEFGHJKLMNPRSTWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTWXYZ')}-{rng.randint(100, 9999)}"


LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "$"})


def _description(rng: random.Random, noun: str, feats: list[str], html: bool, foreign: tuple | None,
                 target: int) -> str:
    (colour, colour2), material = rng.sample(COLOURS, 2), rng.choice(MATERIALS)
    f1, f2, f3 = rng.sample(feats, 3)
    parts = [
        f"This {material} {noun} comes in {colour} and {colour2}.",
        f"Features: {f1}, {f2} and {f3}.",
    ]
    if foreign is not None:
        parts.append(foreign[2])
    parts.append(f"Supplier: {_company(rng)}.")
    extras = SELLING + SHIPPING
    for sentence in rng.sample(extras, len(extras)):
        if sum(map(len, parts)) + len(parts) >= target:
            break
        parts.append(sentence.format(n=rng.randint(2, 9), k=rng.randint(10, 99), h=rng.randint(100, 999),
                                     code=_code(rng)))
    if not html:
        return " ".join(parts)
    head, *rest = parts
    items = "".join(f"<li>{s}</li>" for s in rest[:3])
    tail = " ".join(rest[3:])
    return f"<p><b>{head}</b></p><ul>{items}</ul><p>{tail}</p>"


def _ordinary(rng: random.Random) -> tuple[str, str, str, dict[str, str], str | None]:
    category, nouns, feats = rng.choice(PRODUCTS)
    noun = rng.choice(nouns)
    foreign = rng.choice(FOREIGN) if rng.random() < FOREIGN_RATE else None
    opener = foreign[1] if foreign is not None else rng.choice(TITLE_OPENERS)
    title = f"{opener} {rng.choice(SIZES).title()} {rng.choice(MATERIALS).title()} {noun.title()} " \
            f"{rng.choice(feats).title()} {_code(rng)}"
    attributes = {"Place of Origin": rng.choice(ORIGINS), "Brand Name": rng.choice(["OEM", "Customized", "No brand"]),
                  "Color": rng.choice(COLOURS), "Material": rng.choice(MATERIALS)}
    desc = _description(rng, noun, feats, rng.random() < HTML_RATE, foreign, TARGET_CHARS - len(title))
    return title, desc, category, attributes, None


def _risky(rng: random.Random) -> tuple[str, str, str, dict[str, str], str | None]:
    family, category, title_tpl, sentence = rng.choice(RISKY)
    title = title_tpl.format(n=rng.randint(1, 9))
    if rng.random() < 0.3:  # merchants evade keyword filters
        title = title.translate(LEET)
    _, _, feats = rng.choice(PRODUCTS)
    body = _description(rng, "product", feats, rng.random() < HTML_RATE, None, TARGET_CHARS - len(title) - len(sentence))
    desc = f"{sentence} {body}" if not body.startswith("<") else f"<p>{sentence}</p>{body}"
    attributes = {"Place of Origin": rng.choice(ORIGINS), "Brand Name": "OEM"}
    return title, desc, category, attributes, family


def generate(n: int, seed: int = 0) -> Iterator[dict]:
    """Yield `n` listings; the same (n, seed) always yields the same listings."""
    rng = random.Random(seed)
    width = max(6, len(str(n)))
    for i in range(n):
        title, desc, category, attributes, risk = (_risky if rng.random() < RISK_RATE else _ordinary)(rng)
        rec = {
            "listing_id": f"G{seed}-{i:0{width}d}",
            "merchant_id": f"M-{rng.randint(1, 5000):04d}",
            "title": title,
            "description": desc,
            "category": category,
            "attributes": attributes,
        }
        if rng.random() < 0.25:
            rec["target_markets"] = list(rng.choice(MARKETS))
        rec["_risk"] = risk
        yield rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of listings")
    parser.add_argument("out", type=Path, help="output JSONL file ('-' for stdout)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("n must be >= 0")
    out = sys.stdout if str(args.out) == "-" else args.out.open("w", encoding="utf-8")
    try:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        out.writelines(dumps(rec) + "\n" for rec in generate(args.n, args.seed))
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
