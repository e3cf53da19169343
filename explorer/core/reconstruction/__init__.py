"""Reconstructions and what they are measured against.

``reconstruct`` (codes at each precision, reports, the JPEG baseline), ``jobs`` (the one
orchestration the panel, ``render reconstructions`` and ``evaluate`` call), ``codecs`` (JPEG /
WebP at a byte budget), ``quantize`` (k-bit codes), ``bits`` (compression ratio), ``metrics``
(PSNR, SSIM, confidence intervals), ``inversion`` (GAN inversion) and ``inverted`` (inverted codes
kept per image and shared). Import the submodules; this package imports nothing (torch is
loaded only by the modules that need it).
"""
