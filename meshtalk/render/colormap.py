"""Colouring per-vertex errors for heat maps, and the colour bar that explains them."""

from __future__ import annotations

import numpy as np

# A sequential map from cool and dark (no error) to warm and bright (large error), with
# monotonically increasing lightness so it still reads in grey scale. Anchors are RGB in [0, 1]
# at evenly spaced positions.
_HEAT_ANCHORS = np.array([
    [0.20, 0.25, 0.55],
    [0.15, 0.45, 0.70],
    [0.20, 0.65, 0.62],
    [0.55, 0.78, 0.38],
    [0.93, 0.82, 0.25],
    [0.99, 0.93, 0.70],
])


def heat_colors(values: np.ndarray, vmin: float = 0.0, vmax: float | None = None) -> np.ndarray:
    """Map scalar values to RGB colours of the heat map.

    Args:
        values: (...,) scalars, e.g. per-vertex errors (V,) or (T, V).
        vmin: value shown with the first colour.
        vmax: value shown with the last colour (default: the largest value); values outside
            [vmin, vmax] are clamped.

    Returns:
        (..., 3) float32 RGB in [0, 1].

    Raises:
        ValueError: non-finite values or vmax <= vmin.
    """
    values = np.asarray(values, np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("heat_colors got non-finite values")
    if vmax is None:
        vmax = float(values.max()) if values.size else 1.0
        if vmax <= vmin:
            vmax = vmin + 1.0
    if not vmax > vmin:
        raise ValueError(f"heat_colors needs vmax > vmin, got vmin={vmin}, vmax={vmax}")
    t = np.clip((values - vmin) / (vmax - vmin), 0.0, 1.0) * (len(_HEAT_ANCHORS) - 1)
    i = np.minimum(t.astype(np.int64), len(_HEAT_ANCHORS) - 2)
    w = (t - i)[..., None]
    return ((1 - w) * _HEAT_ANCHORS[i] + w * _HEAT_ANCHORS[i + 1]).astype(np.float32)


def colorbar(height: int, vmin: float, vmax: float, *, width: int = 96, label: str = "error",
             background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A vertical colour bar legend with its range written next to it.

    Args:
        height: image height in pixels.
        vmin, vmax: the values at the bottom and top of the bar.
        width: image width in pixels.
        label: what the colours measure (written on top).
        background: RGB 0–255 of the legend's background.

    Returns:
        (height, width, 3) uint8 RGB image.
    """
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(img)
    font = label_font(max(11, height // 28))
    top, bottom = int(0.12 * height), int(0.88 * height)
    bar_w = max(8, width // 5)
    ramp = heat_colors(np.linspace(1.0, 0.0, max(bottom - top, 2)), 0.0, 1.0)
    bar = (np.repeat(ramp[:, None, :], bar_w, axis=1) * 255).round().astype(np.uint8)
    img.paste(Image.fromarray(bar), (6, top))
    text = (40, 40, 40)
    draw.text((6, max(2, top - 2 * font_size(font) - 4)), label, fill=text, font=font)
    draw.text((bar_w + 10, top), f"{vmax:.3g}", fill=text, font=font)
    draw.text((bar_w + 10, bottom - font_size(font)), f"{vmin:.3g}", fill=text, font=font)
    return np.asarray(img)


def label_font(size: int):
    """Pillow's built-in font at ``size`` pixels (a fixed bitmap font on Pillow < 10.1)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font of fixed size
        return ImageFont.load_default()


def font_size(font) -> int:
    """Height in pixels of a line of text in ``font``."""
    return int(getattr(font, "size", 11))
