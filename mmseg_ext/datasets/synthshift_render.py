"""SynthShift's rendering: the target domain's appearance (markings, windows, textures, shadows,
light, blur, noise) and `render_sample`, one (image, label) pair. Part of the SynthShift generator."""
import numpy as np

from adasweep_base.classes import IGNORE_INDEX
from .synthshift_canvas import (AMP_FINE, AMP_SMOOTH, BUILDING, ROAD, SIDEWALK, SKY, SOURCE, TARGET,
                                TERRAIN, _Canvas)
from .synthshift_scene import _scene


def _smooth_noise(rng, H, W, cell):
    """Bilinearly upsampled Gaussian noise with correlation length `cell` pixels."""
    g = rng.standard_normal((H // cell + 2, W // cell + 2)).astype(np.float32)
    y, x = (np.arange(H) + .5) / cell, (np.arange(W) + .5) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None]
    return (g[y0][:, x0] * (1 - fy) * (1 - fx) + g[y0 + 1][:, x0] * fy * (1 - fx)
            + g[y0][:, x0 + 1] * (1 - fy) * fx + g[y0 + 1][:, x0 + 1] * fy * fx)


def _blur(a):
    p = np.pad(a, ((1, 1), (0, 0), (0, 0)), mode='edge')
    a = .25 * p[:-2] + .5 * p[1:-1] + .25 * p[2:]
    p = np.pad(a, ((0, 0), (1, 1), (0, 0)), mode='edge')
    return .25 * p[:, :-2] + .5 * p[:, 1:-1] + .25 * p[:, 2:]


def _render_target(cv):
    """Target-domain appearance: markings, windows, textures, shadows, light, blur, noise."""
    rng, lab, col, H, W = cv.rng, cv.lab, cv.col, cv.H, cv.W
    li = np.where(lab == IGNORE_INDEX, 19, lab)
    road, gz = lab == ROAD, cv.Zg > 0
    lane = rng.uniform(-1.5, 1.5)
    mark = road & gz & (np.abs(cv.Xg - lane) < .08 + .004 * cv.Zg) & ((cv.Zg + rng.uniform(0, 9)) % 9 < 4)
    col[mark] = (190, 190, 180)
    kerb = (lab == SIDEWALK) & gz & (np.abs(cv.Xg) - cv.rh < .2)
    col[kerb] *= 1.4
    per = rng.uniform(2.8, 4.2, 2)
    u, v = cv.uv
    win = (lab == BUILDING) & ((u / per[0]) % 1 < .45) & ((v / per[1]) % 1 > .45) & (v > 2.5)
    col[win] = col[win] * .25 + np.array([40, 48, 60], np.float32) * rng.uniform(.6, 1.6)
    sky = lab == SKY
    col[sky] *= np.broadcast_to(.82 + .3 * np.arange(H)[:, None] / H, (H, W))[sky][:, None]
    tex = (1 + AMP_SMOOTH[li] * _smooth_noise(rng, H, W, max(2, W // 24))
           + AMP_FINE[li] * rng.standard_normal((H, W)).astype(np.float32))
    shadow = (_smooth_noise(rng, H, W, max(3, W // 10)) > rng.uniform(.8, 2.)) & \
        np.isin(lab, (ROAD, SIDEWALK, TERRAIN))
    col *= (tex * np.where(shadow, .7, 1.))[..., None]
    t, a = rng.uniform(0, 2 * np.pi), rng.uniform(-.4, .4)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    col *= (1 + a * ((xx - W / 2) * np.cos(t) + (yy - H / 2) * np.sin(t)) / W)[..., None]
    col = (col - 128) * rng.uniform(.8, 1.15) + 128 + rng.uniform(-20, 15)
    col = _blur(col * rng.uniform(.9, 1.1, 3).astype(np.float32))
    return col + rng.normal(0, rng.uniform(1.5, 5), col.shape).astype(np.float32)


def render_sample(seed, split_id, index, height=64, width=128):
    """One (image HxWx3 uint8, label HxW uint8) pair; split_id 0 = source, 1/2 = target train/val."""
    rng = np.random.default_rng([seed, split_id, index])
    cv = _Canvas(rng, height, width, SOURCE if split_id == 0 else TARGET)
    _scene(cv)
    # source: flat colours under a per-image light level / tint (time of day, weather)
    col = _render_target(cv) if cv.tex else cv.col * (rng.uniform(.55, 1.25) * rng.uniform(.85, 1.15, 3))
    return np.clip(np.rint(col), 0, 255).astype(np.uint8), cv.lab
