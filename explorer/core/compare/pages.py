"""The reconstructions page of a comparison: originals, then one row per model, each image's PSNR and SSIM."""

from __future__ import annotations

import numpy as np

__all__ = ["reconstructions_page"]


def reconstructions_page(rows, title: str, scale: float = 3.0):
    """Lay out the reconstructions grid: the originals, then one row per model with each image's PSNR and SSIM.

    Each row is laid out by `explorer.core.figures.render_grid_figure` (its per-image PSNR/SSIM as
    column labels) at the same image width; rows are stacked right-aligned (the images line up,
    the labels grow left) under the title. The Compare view shows it; ``compare`` saves it.

    Parameters
    ----------
    rows : list of dict
        `explorer.core.compare.report.reconstruction_grid`.
    title : str
    scale : float
        Image scale factor (> 0).

    Returns
    -------
    PIL.Image.Image
        RGB.
    """
    from PIL import Image, ImageDraw

    from explorer.core.figures import font, render_grid_figure

    parts = []
    width_px = max(int(round(r["images"].shape[-1] * scale)) for r in rows)
    for k, r in enumerate(rows):
        imgs = r["images"]
        if k == 0:
            cols = [f"#{int(i)}" for i in r["indices"]]
        else:
            cols = [f"{p:.1f} dB · {'n/a' if not np.isfinite(s) else f'{s:.2f}'}"
                    for p, s in zip(r["psnr"], r["ssim"], strict=True)]
        s = scale * width_px / max(1, int(round(imgs.shape[-1] * scale)))
        fig, _, _ = render_grid_figure(imgs[None], [r["label"]], cols, None, scale=s, pad_px=3, font_size=13)
        parts.append(fig.convert("RGB"))
    title_h = 36
    width = max(p.width for p in parts)
    page = Image.new("RGB", (width, title_h + sum(p.height for p in parts)), (255, 255, 255))
    ImageDraw.Draw(page).text((width / 2, title_h / 2), title, font=font(17), fill=(0, 0, 0), anchor="mm")
    y = title_h
    for p in parts:
        page.paste(p, (width - p.width, y))
        y += p.height
    return page
