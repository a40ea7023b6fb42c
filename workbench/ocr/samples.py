"""Pictures with known words, drawn with Pillow, for the OCR tests and benchmark: a sign photographed at an angle,
a page photographed in perspective, and a phone screenshot. Each returns the image and the words drawn on it.
DejaVu Sans is used when the system has it, else Pillow's built-in scalable font."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

# Words to draw: ordinary, distinct, at least five letters (what people remember and type).
VOCABULARY = """invoice receipt balance payment station airport harbour library museum theatre bakery
pharmacy hospital parking garden bicycle welcome exhibition platform departure arrival bridge castle market
coffee chocolate sandwich kitchen window garage meeting project budget quarterly report summary contract
delivery warehouse shipping customer account password network printer battery charger message holiday
weekend birthday wedding concert festival ticket cinema stadium football tennis swimming mountain valley
forest river island village highway tunnel railway electric engine machine tractor harvest orchard vineyard
cellar brewery bottle recipe flour butter cheese tomato potato carrot pepper salmon lemon orange banana
cherry walnut almond honey sugar vanilla cinnamon ginger garlic onion spinach pumpkin melon grape apricot
""".split()


def font(size_px: int, bold: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_FILES[0] if bold else FONT_FILES[1]
    if Path(path).exists():
        return ImageFont.truetype(path, size_px)
    return ImageFont.load_default(size=size_px)


def _background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A smooth colour gradient with grain: something photo-like that holds no letters."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c0 = np.array([rng.randint(40, 200) for _ in range(3)], np.float32)
    c1 = np.array([rng.randint(40, 200) for _ in range(3)], np.float32)
    t = ((x / w + y / h) / 2)[..., None]
    img = c0 * (1 - t) + c1 * t + np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, (h, w, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def sign(words: list[str], seed: int = 0, size: tuple[int, int] = (3000, 2000),
         angle_deg: float = 18.0) -> Image.Image:
    """A shop sign (dark letters on a light panel) turned by ``angle_deg``, on a photo-like background."""
    rng = random.Random(seed)
    f = font(int(size[1] * 0.06))
    lines = [" ".join(words[i:i + 2]).upper() for i in range(0, len(words), 2)]
    d0 = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tw = max(d0.textlength(t, font=f) for t in lines)
    lh = int(size[1] * 0.085)
    panel = Image.new("RGBA", (int(tw + lh), lh * len(lines) + lh // 2), (245, 236, 210, 255))
    d = ImageDraw.Draw(panel)
    for i, t in enumerate(lines):
        d.text((lh // 2, lh // 4 + i * lh), t, fill=(30, 30, 60), font=f)
    panel = panel.rotate(angle_deg, expand=True, resample=Image.BICUBIC)
    bg = _background(size, rng)
    bg.paste(panel, ((size[0] - panel.width) // 2, (size[1] - panel.height) // 2), panel)
    return bg.filter(ImageFilter.GaussianBlur(1.0))


def page(words: list[str], seed: int = 0, size: tuple[int, int] = (3000, 4000), tilt: float = 0.12) -> Image.Image:
    """A printed page with a heading and a paragraph, photographed from below-left (a perspective warp)."""
    import cv2
    rng = random.Random(seed)
    pw, ph = 1700, 2200
    p = Image.new("RGB", (pw, ph), (250, 250, 245))
    d = ImageDraw.Draw(p)
    d.text((120, 120), words[0].capitalize(), fill=(10, 10, 10), font=font(110))
    body = font(52, bold=False)
    filler = ["the", "and", "for", "with", "from", "this", "that", "our", "was", "are"]
    text = []
    for w in words[1:]:
        text += [rng.choice(filler), w]
    text += [rng.choice(filler) for _ in range(30)]
    y, line = 320, ""
    for w in text:
        if d.textlength(line + " " + w, font=body) > pw - 240:
            d.text((120, y), line.strip(), fill=(20, 20, 20), font=body)
            y, line = y + 80, ""
        line += " " + w
    d.text((120, y), line.strip(), fill=(20, 20, 20), font=body)
    W, H = size
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    dst = np.float32([[W * (0.12 + tilt), H * 0.1], [W * (0.88 - tilt / 2), H * 0.06], [W * 0.92, H * 0.93],
                      [W * 0.06, H * 0.88]])
    m = cv2.getPerspectiveTransform(src, dst)
    bg = np.asarray(_background(size, rng))
    warped = cv2.warpPerspective(np.asarray(p), m, size, borderMode=cv2.BORDER_TRANSPARENT, dst=bg.copy())
    return Image.fromarray(warped).filter(ImageFilter.GaussianBlur(0.8))


def screenshot(words: list[str], seed: int = 0, size: tuple[int, int] = (1170, 2532)) -> Image.Image:
    """A phone screenshot: a status bar, a title and chat bubbles, each holding some of ``words``."""
    rng = random.Random(seed)
    im = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.text((60, 40), "9:41", fill=(0, 0, 0), font=font(44))
    d.text((60, 170), words[0].capitalize(), fill=(0, 0, 0), font=font(72))
    y = 340
    f = font(46, bold=False)
    rest = words[1:]
    for i in range(0, len(rest), 2):
        t = " ".join(["see", rest[i], "at", *rest[i + 1:i + 2]]) if rng.random() < 0.5 else " ".join(rest[i:i + 2])
        tw = d.textlength(t, font=f)
        x = 60 if (i // 2) % 2 == 0 else size[0] - 60 - tw - 60
        colour = (233, 233, 235) if x == 60 else (10, 132, 255)
        d.rounded_rectangle((x, y, x + tw + 60, y + 100), radius=40, fill=colour)
        d.text((x + 30, y + 22), t, fill=(0, 0, 0) if x == 60 else (255, 255, 255), font=f)
        y += 150
    return im


KINDS = ("sign-a", "sign-b", "page-a", "page-b", "screenshot-a", "screenshot-b")


def word_sets(seed: int = 0, words_per_picture: int = 6) -> dict[str, list[str]]:
    """Which words each generated picture holds: four per sign, ``words_per_picture`` otherwise, none twice."""
    rng = random.Random(seed)
    pool = VOCABULARY[:]
    rng.shuffle(pool)
    out = {}
    for name in KINDS:
        n = 4 if name.startswith("sign") else words_per_picture
        out[name], pool = pool[:n], pool[n:]
    return out


def generated_set(seed: int = 0, words_per_picture: int = 6) -> list[tuple[str, Image.Image, list[str]]]:
    """(name, picture, words) for two signs, two pages and two screenshots."""
    makers = {"sign-a": lambda w: sign(w, seed, angle_deg=15), "sign-b": lambda w: sign(w, seed + 1, angle_deg=-25),
              "page-a": lambda w: page(w, seed), "page-b": lambda w: page(w, seed + 1, tilt=0.2),
              "screenshot-a": lambda w: screenshot(w, seed), "screenshot-b": lambda w: screenshot(w, seed + 1)}
    return [(name, makers[name](words), words) for name, words in word_sets(seed, words_per_picture).items()]


def unused_words(seed: int = 0, words_per_picture: int = 6) -> list[str]:
    """Vocabulary words that ``generated_set`` draws nowhere (a search for them must find nothing)."""
    used = {w for ws in word_sets(seed, words_per_picture).values() for w in ws}
    return [w for w in VOCABULARY if w not in used]
