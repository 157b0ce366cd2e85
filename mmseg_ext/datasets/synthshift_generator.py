"""Procedural generator of the SynthShift benchmark (synthetic GTA-like source -> "real" target).

Street scenes are laid out in 3-D (pinhole camera over a ground plane: road, sidewalks, facades
along the street, objects standing on the ground), so objects lower in the image are larger and
adjacency is physical (riders on bikes, lights and signs on poles). The source is rendered with
flat per-class colours; the target with another palette, textures, shadows, illumination, blur
and noise, and with different layout/object statistics.
"""
import contextlib
import json
import os
import pathlib
import shutil
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image

from ..fileio import fsync_dir, fsync_tree
from .classes import CITYSCAPES_CLASSES, IGNORE_INDEX

# 3: the default target-train pool is 500 images (was 1000); a folder made with the old default
# is refused rather than silently used with another pool size.
VERSION = 3
(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEG, TERRAIN, SKY, PERSON, RIDER, CAR,
 TRUCK, BUS, TRAIN, MOTO, BIKE) = range(19)
SPLITS = (('source', 0), ('target_train', 1), ('target_val', 2))
TRAIN_CITIES, VAL_CITY = ('synthville', 'procburg', 'randomstadt'), 'valdorf'
# the folders of each split (images, labels), as meta.json's integrity record 'files' names them
FOLDERS = {'source': ('source/images', 'source/labels'),
           'target_train': ('target/leftImg8bit/train', 'target/gtFine/train'),
           'target_val': ('target/leftImg8bit/val', 'target/gtFine/val')}

# Source: saturated, GTA-like flat colours (one per class).
SRC_PAL = np.array([
    (78, 74, 88), (176, 166, 158), (168, 118, 92), (204, 192, 150), (142, 108, 66), (66, 66, 72),
    (36, 38, 30), (214, 192, 40), (58, 152, 48), (150, 184, 78), (118, 178, 246), (212, 132, 92),
    (192, 68, 172), (40, 72, 192), (232, 210, 70), (238, 132, 40), (160, 110, 160), (124, 30, 30),
    (30, 162, 162)], np.float32)
# Target: muted, Cityscapes-like, several colours per class: greyer and lower-contrast
# road/sidewalk/buildings, paler sky, darker vegetation, light poles (dark in the source),
# cars/signs/buildings/persons varying per instance.
TGT_PAL = [
    [(98, 94, 96)], [(140, 134, 128), (120, 116, 112)],
    [(140, 118, 100), (150, 136, 118), (120, 96, 84), (158, 150, 140), (110, 106, 106)],
    [(150, 146, 130), (130, 124, 116)], [(110, 110, 96), (96, 88, 76)], [(140, 140, 132)],
    [(30, 32, 28)], [(40, 82, 172), (200, 200, 206), (178, 42, 40), (210, 180, 40)],
    [(56, 104, 40), (70, 100, 46)], [(132, 126, 80), (118, 128, 74)],
    [(170, 196, 226), (150, 182, 222), (200, 212, 228)],
    [(40, 40, 48), (70, 62, 58), (112, 34, 36), (44, 60, 96), (150, 150, 140)],
    [(46, 42, 40), (80, 70, 20), (30, 50, 70)],
    [(22, 22, 26), (202, 202, 206), (122, 122, 128), (150, 22, 26), (32, 46, 92), (40, 72, 170)],
    [(222, 222, 216), (200, 190, 80), (60, 90, 60)], [(206, 174, 44), (196, 196, 206), (220, 120, 50)],
    [(212, 212, 202)], [(30, 30, 36), (150, 30, 30)], [(50, 56, 62), (30, 60, 110)]]
PARTS = {'glass': [(34, 40, 50)], 'wheel': [(18, 18, 20)], 'legs': [(30, 32, 40), (60, 66, 90)],
         'skin': [(190, 150, 120), (120, 86, 66), (220, 184, 160)], 'trunk': [(70, 54, 40)],
         'lamp': [(230, 40, 30), (60, 210, 90), (240, 170, 30)], 'stripe': [(190, 30, 36)],
         'helmet': [(220, 220, 220), (30, 30, 30)], 'void': [(70, 70, 70), (110, 100, 80)]}
#                 road side bld wall fen pole lig sign veg ter sky per rid car tru bus tra mot bik
AMP_FINE = np.array([.04, .05, .03, .05, .06, .03, .03, .03, .14, .10, .01, .05, .05, .03, .03,
                     .03, .03, .04, .05, 0], np.float32)
AMP_SMOOTH = np.array([.08, .06, .06, .08, .05, .03, .02, .03, .22, .15, .06, .03, .03, .03, .03,
                       .04, .04, .04, .04, 0], np.float32)
SOURCE = dict(textured=False, horizon=(.34, .50), cam_h=(1.7, 2.3), road_half=(4.5, 8.), walk=(2.5, 5.),
              setback=(0., 5.), p_terrain=.45, bld_h=(12., 45.), seg_p=(.56, .24, .1, .1),
              p_cross=.3, drive_gap=30., p_park=.4, park_fill=.4, car_scale=(1., 1.15),
              drive_p=(.9, .025, .025, .02, .03), n_person=2.5, p_bikes=.1, n_tree=1.5, n_pole=4,
              pole_p=(.4, .25, .35), p_fence=.25, p_train=.04, p_void=.3, p_ego=0.)
TARGET = dict(textured=True, horizon=(.38, .48), cam_h=(1.3, 1.6), road_half=(3.5, 6.5), walk=(3.5, 7.),
              setback=(0., 5.), p_terrain=.6, bld_h=(8., 24.), seg_p=(.5, .32, .1, .08),
              p_cross=.35, drive_gap=26., p_park=.5, park_fill=.45, car_scale=(.8, .95),
              drive_p=(.88, .025, .025, .03, .04), n_person=6, p_bikes=.25, n_tree=3., n_pole=5,
              pole_p=(.3, .3, .4), p_fence=.35, p_train=.04, p_void=.4, p_ego=.8)


class _Canvas:
    """Label/colour buffers plus a pinhole camera: X lateral (m), h height (m), Z depth (m)."""

    def __init__(self, rng, H, W, dom):
        self.rng, self.H, self.W, self.d, self.tex = rng, H, W, dom, dom['textured']
        self.f, self.yh = 1.1 * W, H * rng.uniform(*dom['horizon'])
        self.vx, self.cam = W * rng.uniform(.4, .6), rng.uniform(*dom['cam_h'])
        self.lab = np.full((H, W), SKY, np.uint8)
        self.col = np.zeros((H, W, 3), np.float32)
        self.uv = np.zeros((2, H, W), np.float32)
        self.maxw = max(2, round(W / 64))

    def _pick(self, pal, sd):
        return np.array(pal[self.rng.integers(len(pal))], np.float32) + self.rng.normal(0, sd, 3)

    def colour(self, cls):
        """Instance colour: source palette with small jitter, or one of the target colours."""
        if not self.tex:
            return SRC_PAL[cls] * self.rng.uniform(.8, 1.2) + self.rng.normal(0, 6, 3)
        return self._pick(TGT_PAL[cls], 10)

    def part(self, base, name):
        """Colour of an object part (glass, wheels, skin...): target only, the source stays flat."""
        return self._pick(PARTS[name], 8) if self.tex else base

    def proj(self, X, h, Z):
        return self.vx + self.f * X / Z, self.yh + self.f * (self.cam - h) / Z

    def rect(self, X0, X1, h0, h1, Z, cls, colour, minw=0, maxw=None, minh=0, uv=False):
        """Fronto-parallel rectangle at depth Z."""
        (x0, y0), (x1, y1) = self.proj(X0, h1, Z), self.proj(X1, h0, Z)
        c0, c1, r0, r1 = round(x0), round(x1), round(y0), round(y1)
        if c1 - c0 < minw:
            c0 = int(np.floor((x0 + x1) / 2 - minw / 2 + .5)); c1 = c0 + minw
        if maxw and c1 - c0 > maxw:
            c0 = int(np.floor((x0 + x1) / 2 - maxw / 2 + .5)); c1 = c0 + maxw
        r1 = max(r1, r0 + minh)
        c0, c1, r0, r1 = max(c0, 0), min(c1, self.W), max(r0, 0), min(r1, self.H)
        if c1 <= c0 or r1 <= r0:
            return
        self.lab[r0:r1, c0:c1] = cls
        self.col[r0:r1, c0:c1] = colour
        if uv:
            self.uv[0, r0:r1, c0:c1] = ((np.arange(c0, c1) + .5 - self.vx) * Z / self.f)[None]
            self.uv[1, r0:r1, c0:c1] = (self.cam - (np.arange(r0, r1) + .5 - self.yh) * Z / self.f)[:, None]

    def _fill(self, x0, x1, y0, y1, fn, cls, colour):
        """Paint pixels of the box [x0,x1]x[y0,y1] whose centres satisfy fn(yy, xx) -> mask."""
        r0, r1, c0, c1 = max(int(y0), 0), min(int(np.ceil(y1)), self.H), max(int(x0), 0), min(int(np.ceil(x1)), self.W)
        if r1 <= r0 or c1 <= c0:
            return None
        m = fn(np.arange(r0, r1)[:, None] + .5, np.arange(c0, c1)[None] + .5)
        self.lab[r0:r1, c0:c1][m] = cls
        self.col[r0:r1, c0:c1][m] = colour
        return r0, c0, m

    def ellipse(self, X, h, rx, ry, Z, cls, colour):
        (cx, cy), rx, ry = self.proj(X, h, Z), max(.6, self.f * rx / Z), max(.6, self.f * ry / Z)
        self._fill(cx - rx, cx + rx, cy - ry, cy + ry,
                   lambda yy, xx: ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1, cls, colour)

    def box(self, X, Z, w, l, h0, h1, cls, colour):
        """Axis-aligned 3-D box (near face at depth Z): fill the convex hull of its corners."""
        pts = sorted({self.proj(x, h, z) for x in (X - w / 2, X + w / 2) for h in (h0, h1) for z in (Z, Z + l)})
        hull = []
        for seq in (pts, pts[::-1]):  # monotone chain
            half = []
            for p in seq:
                while len(half) > 1 and ((half[-1][0] - half[-2][0]) * (p[1] - half[-2][1])
                                         - (half[-1][1] - half[-2][1]) * (p[0] - half[-2][0])) <= 0:
                    half.pop()
                half.append(p)
            hull += half[:-1]
        edges = list(zip(hull, hull[1:] + hull[:1]))
        xs, ys = [p[0] for p in hull], [p[1] for p in hull]
        self._fill(min(xs), max(xs), min(ys), max(ys), lambda yy, xx: np.logical_and.reduce(
            [(b[0] - a[0]) * (yy - a[1]) - (b[1] - a[1]) * (xx - a[0]) >= 0 for a, b in edges]), cls, colour)

    def plane(self, Xp, Z0, Z1, h0, h1, cls, colour, bump=0., uv=False):
        """Vertical plane parallel to the street at lateral Xp, depths Z0..Z1, heights h0..h1."""
        Z0 = max(Z0, .5)
        xa, xb = self.vx + self.f * Xp / Z0, self.vx + self.f * Xp / Z1
        c0, c1 = max(int(min(xa, xb)), 0), min(int(np.ceil(max(xa, xb))), self.W)
        with np.errstate(divide='ignore', invalid='ignore'):
            Zc = self.f * Xp / (np.arange(c0, c1) + .5 - self.vx)
        ok = (Zc >= Z0) & (Zc <= Z1)
        if not ok.any():
            return
        Zc = np.where(ok, Zc, Z1)
        if bump:  # irregular tree line, flattened with distance (no aliasing near the horizon)
            ph = self.rng.uniform(0, 6.3, 2)
            h1 = h1 + bump * np.exp(-Zc / 40) * (np.sin(Zc * .25 + ph[0]) + .5 * np.sin(Zc * .7 + ph[1]))
        top, bot = self.yh + self.f * (self.cam - h1) / Zc, self.yh + self.f * (self.cam - h0) / Zc
        out = self._fill(c0, c1, top[ok].min(), bot[ok].max(), lambda yy, xx: (yy >= top) & (yy < bot) & ok,
                         cls, colour)
        if uv and out:
            r0, c0, m = out
            yy = np.arange(r0, r0 + m.shape[0])[:, None] + .5
            sub = self.uv[:, r0:r0 + m.shape[0], c0:c0 + m.shape[1]]
            sub[0][m] = np.broadcast_to(Zc, m.shape)[m]
            sub[1][m] = (self.cam - (yy - self.yh) * Zc / self.f)[m]


def _person(cv, X, Z, cls=PERSON, base=0., s=None):
    """Standing person (base=0) or seated rider (base = saddle height)."""
    s = s or cv.rng.uniform(.9, 1.08)
    top = cv.colour(cls)
    legs, skin = cv.part(top, 'legs'), cv.part(top, 'skin' if cls == PERSON else 'helmet')
    if base:
        cv.rect(X - .16 * s, X + .16 * s, base - .45, base + .1, Z, cls, legs, minw=1)
        t0 = base + .05
    else:
        for d in (-1, 1):
            cv.rect(X + d * .03 * s, X + d * .18 * s, 0, .85 * s, Z, cls, legs, minw=1)
        t0 = .82 * s
    cv.rect(X - .24 * s, X + .24 * s, t0, t0 + .62 * s, Z, cls, top, minw=1)
    cv.ellipse(X, t0 + .77 * s, .11 * s, .14 * s, Z, cls, skin)


def _two_wheeler(cv, X, Z, cls, rider=True, side=None):
    """Bicycle or motorcycle, side or rear view, with its rider sitting on top."""
    side = cv.rng.random() < .5 if side is None else side
    c = cv.colour(cls)
    wheel, moto = cv.part(c, 'wheel'), cls == MOTO
    if side:
        d, r = (.7, .31) if moto else (.52, .34)
        for k in (-1, 1):
            cv.ellipse(X + k * d, r, r, r, Z, cls, wheel if moto else c)
        if moto:
            cv.ellipse(X, .62, .72, .28, Z, cls, c)
        else:
            cv.rect(X - .5, X + .45, .5, .62, Z, cls, c, minh=1)
            cv.rect(X + .38, X + .48, .6, 1., Z, cls, c, minw=1)
        if rider:
            _person(cv, X - .1, Z - .05, RIDER, base=.85 if moto else .95)
    else:
        if rider:
            _person(cv, X, Z + .3, RIDER, base=.85 if moto else .95)
        w = .3 if moto else .06
        cv.rect(X - w, X + w, .15 if moto else 0, .95, Z, cls, c, minw=1)
        cv.rect(X - .3, X + .3, .92, 1., Z, cls, c, minh=1)
        cv.rect(X - .07, X + .07, 0, .6, Z - .01, cls, wheel, minw=1)


def _vehicle(cv, X, Z, cls, along=True):
    """Car / truck / bus / train (tram) as boxes; along=False: crossing, seen from the side."""
    rng, body = cv.rng, cv.colour(cls)
    glass, wheel = cv.part(body, 'glass'), cv.part(body, 'wheel')
    sc = rng.uniform(*cv.d['car_scale']) if cls == CAR else 1.
    w, l, h = {CAR: (1.8, 4.4, 1.45), TRUCK: (2.5, 7.5, 3.5), BUS: (2.55, 12., 3.2),
               TRAIN: (2.65, rng.uniform(15, 25), 3.6)}[cls]
    w, l, h = w * sc, l * sc, h * sc * rng.uniform(.95, 1.08)

    def part(a, ww, ll, h0, h1, c):  # sub-box starting `a` metres behind the vehicle's near end
        if along:
            cv.box(X, Z + a, ww, ll, h0, h1, cls, c)
        else:
            cv.box(X - l / 2 + a + ll / 2, Z + (w - ww) / 2, ll, ww, h0, h1, cls, c)
    for k in (-1, 1):
        if along:
            cv.rect(*sorted((X + k * w / 2, X + k * (w / 2 - .3))), 0, .4, Z, cls, wheel)
        else:
            cv.ellipse(X + k * (l / 2 - .9), .35, .35, .35, Z, cls, wheel)
    if cls == CAR:
        part(0, w, l, .22 * sc, .62 * h, body)
        part(.2 * l, .86 * w, .55 * l, .62 * h, h, glass)
    elif cls == TRUCK:
        part(0, w, .72 * l, .8, h, body)
        part(.72 * l, .96 * w, .28 * l, .45, .8 * h, cv.part(body, 'stripe') if rng.random() < .5 else body)
    else:
        part(0, w, l, .35, h, body)
        part(.3, w * 1.01, l - .6, .45 * h, .78 * h, glass)
        if cls == TRAIN:
            part(.2, w * 1.02, l - .4, .25 * h, .32 * h, cv.part(body, 'stripe'))


def _clutter(cv, X, Z):
    """Unlabelled (void) street furniture: bins, boxes."""
    c = cv.part(np.zeros(3, np.float32), 'void') if cv.tex else SRC_PAL[POLE] * .6
    cv.box(X, Z, .6, .6, 0, cv.rng.uniform(.6, 1.2), IGNORE_INDEX, c)


def _pole(cv, X, Z, s):
    """Street lamp, traffic-light pole (with optional mast arm) or sign pole."""
    rng, pc = cv.rng, cv.colour(POLE)
    kind = rng.choice(3, p=cv.d['pole_p'])
    H = (rng.uniform(6, 9), rng.uniform(3.5, 4.5), rng.uniform(2.2, 3.))[kind]
    wpx = int(np.clip(round(cv.f * .2 / Z), 1, cv.maxw))
    cv.rect(X - .1, X + .1, 0, H, Z, POLE, pc, minw=wpx, maxw=wpx)
    if kind == 0:
        cv.rect(min(X, X - s * 1.6), max(X, X - s * 1.6), H - .2, H, Z, POLE, pc, minh=1)
    if kind == 1:
        for xl, hl in [(X, H)] + ([(X - s * rng.uniform(3, 6), H + 1.2)] if rng.random() < .4 else []):
            if xl != X:
                cv.rect(min(X, xl), max(X, xl), H + 1.1, H + 1.25, Z, POLE, pc, minh=1)
                cv.rect(X - .1, X + .1, H, H + 1.25, Z, POLE, pc, minw=wpx, maxw=wpx)
            lc = cv.colour(LIGHT)
            cv.rect(xl - .18, xl + .18, hl - 1., hl, Z - .05, LIGHT, lc, minw=1)
            cv.ellipse(xl, hl - rng.choice([.2, .5, .8]), .09, .09, Z - .1, LIGHT, cv.part(lc, 'lamp'))
    if kind == 2 or rng.random() < .25:
        hs, sc = (H if kind == 2 else rng.uniform(2.2, 2.8)), cv.colour(SIGN)
        if rng.random() < .5:
            cv.ellipse(X, hs + .2, .34, .34, Z - .05, SIGN, sc)
        else:
            cv.rect(X - .32, X + .32, hs - .2, hs + .5, Z - .05, SIGN, sc, minw=1)


def _background(cv, rh, walk, back, zend, cross):
    """Sky, distant street end, ground (road/sidewalk/terrain) and the facades along the street."""
    rng, d, f, H, W = cv.rng, cv.d, cv.f, cv.H, cv.W
    cv.col[:] = cv.colour(SKY)
    # street end: blocks of buildings / trees across the whole width
    X, Xmax = (0 - cv.vx) * zend / f - 5, (W - cv.vx) * zend / f + 5
    while X < Xmax:
        bw, veg = rng.uniform(8, 30), rng.random() < .3
        hb = rng.uniform(4, 12) if veg else rng.uniform(*d['bld_h'])
        cv.rect(X, X + bw, 0, hb, zend, VEG if veg else BUILDING, cv.colour(VEG if veg else BUILDING), uv=not veg)
        X += bw
    # ground
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) + .5
    g = yy > cv.yh + f * cv.cam / zend
    Z = np.where(g, f * cv.cam / np.maximum(yy - cv.yh, 1e-3), 0)
    Xw = (xx - cv.vx) * Z / f
    cv.Zg, cv.Xg = Z, Xw
    cls = np.where(Xw < 0, back[0], back[1]).astype(np.uint8)
    cls[(Xw >= -rh - walk[0]) & (Xw <= rh + walk[1])] = SIDEWALK
    cls[(np.abs(Xw) <= rh) | ((Z >= cross[0]) & (Z <= cross[1]))] = ROAD
    pal = np.stack([cv.colour(c) if c in (ROAD, SIDEWALK, TERRAIN) else np.zeros(3) for c in range(19)])
    cv.lab[g], cv.col[g] = cls[g], pal[cls[g]]
    # facades: segments of buildings / vegetation / walls / open space, cut by the cross street;
    # painted far to near (back planes first) so that the painter's algorithm stays correct
    for si, s in enumerate((-1, 1)):
        Xb, front, backs = s * (rh + walk[si] + rng.uniform(*d['setback'])), [], []
        for z0, z1 in ((1., min(cross[0], zend)), (cross[1], zend)):
            z = z0
            while z < z1:
                ze, t = min(z + rng.uniform(8, 30), z1), rng.choice(4, p=d['seg_p'])
                if t in (2, 3):  # wall or open space: something further back
                    veg = rng.random() < .4
                    backs.append((Xb + s * rng.uniform(3, 30), z - 3, ze + 3, 0,
                                  rng.uniform(4, 10) if veg else rng.uniform(*d['bld_h']),
                                  VEG if veg else BUILDING, cv.colour(VEG if veg else BUILDING), 1.5 * veg, not veg))
                if t < 3:
                    cls, hmax = ((BUILDING, rng.uniform(*d['bld_h'])), (VEG, rng.uniform(3, 9)),
                                 (WALL, rng.uniform(1, 2.8)))[t]
                    front.append((Xb, z, ze, 0, hmax, cls, cv.colour(cls), 1.2 * (cls == VEG), cls == BUILDING))
                z = ze
        if cross[0] < zend:  # the building across the cross street
            cv.rect(*sorted((s * (rh + walk[si]), s * 300)), 0, rng.uniform(*d['bld_h']), cross[1] + 12,
                    BUILDING, cv.colour(BUILDING), uv=True)
        for p in backs[::-1] + front[::-1]:
            cv.plane(*p[:7], bump=p[7], uv=p[8])
        if rng.random() < d['p_fence']:
            z = rng.uniform(2, 20)
            cv.plane(s * (rh + walk[si]), z, z + rng.uniform(5, 40), 0, rng.uniform(.9, 1.6), FENCE,
                     cv.colour(FENCE))


def _scene(cv):
    """Sample a scene (layout + objects) and paint it into the canvas."""
    rng, d = cv.rng, cv.d
    rh, zend = rng.uniform(*d['road_half']), rng.uniform(50, 200)
    walk = [rng.uniform(*d['walk']) if rng.random() < .9 else .3 for _ in range(2)]
    back = [TERRAIN if rng.random() < d['p_terrain'] else SIDEWALK for _ in range(2)]
    cross = (1e6, 1e6)
    if rng.random() < d['p_cross']:
        c0 = rng.uniform(12, min(45, zend - 30))
        cross = (c0, c0 + rng.uniform(9, 15))
    cv.rh = rh
    _background(cv, rh, walk, back, zend, cross)
    objs, sides = [], (-1, 1)
    add = lambda z, fn, *a: objs.append((z, fn, a)) if z > 2 else None
    park = [k for k in range(2) if rng.random() < d['p_park']]
    lo, hi = -rh + 2.2 * (0 in park), rh - 2.2 * (1 in park)
    n = max(1, int((hi - lo) // 3.2))
    kinds = (CAR, TRUCK, BUS, MOTO, BIKE)
    for li in range(n):  # driving lanes
        X, z = lo + (li + .5) * (hi - lo) / n, 9 + rng.exponential(14)
        while z < min(zend - 12, 90):
            k = kinds[rng.choice(5, p=d['drive_p'])]
            if k in (MOTO, BIKE):
                add(z, _two_wheeler, X + rng.uniform(-1, 1), z, k, True)
            else:
                add(z, _vehicle, X + rng.uniform(-.4, .4), z, k)
            z += 15 + rng.exponential(d['drive_gap'])
    for k in park:  # parked cars along the kerb
        z = rng.uniform(7, 16)
        while z < min(zend - 6, 60):
            if rng.random() < d['park_fill']:
                add(z, _vehicle, sides[k] * (rh - 1.1), z, TRUCK if rng.random() < .02 else CAR)
            z += 4.6 + rng.uniform(.4, 3)
    if rng.random() < d['p_train']:
        z = rng.uniform(8, 45)
        if cross[0] < 1e5 and rng.random() < .5:
            add(cross[0] + 2, _vehicle, rng.uniform(-8, 8), cross[0] + 2, TRAIN, False)
        else:
            add(z, _vehicle, rng.uniform(-.3, .3) * rh, z, TRAIN)
    if cross[0] < 1e5:  # traffic and pedestrians on the cross street
        for _ in range(rng.poisson(1.)):
            z = rng.uniform(cross[0] + 1, cross[1] - 3)
            if rng.random() < .85:
                add(z, _vehicle, rng.uniform(-15, 15), z, CAR if rng.random() < .85 else BUS, False)
            else:
                add(z, _two_wheeler, rng.uniform(-10, 10), z, BIKE, True, True)
        for _ in range(rng.poisson(d['n_person'] / 2)):
            z = rng.uniform(cross[0] - 3, cross[0])
            add(z, _person, rng.uniform(-rh, rh), z)
    for _ in range(rng.poisson(d['n_person'])):  # pedestrians (some in groups) on the sidewalks
        si, z = rng.integers(2), 3 + rng.exponential(14)
        for _ in range(1 + (rng.random() < .3) * rng.integers(1, 3)):
            X = sides[si] * (rh + rng.uniform(.3, max(.4, walk[si] - .3)))
            add(z, _person, X, z)
            z += rng.uniform(-.8, .8)
    if rng.random() < d['p_bikes']:  # parked bicycles
        si, z = rng.integers(2), rng.uniform(4, 25)
        for j in range(rng.integers(1, 4)):
            add(z + .7 * j, _two_wheeler, sides[si] * (rh + min(walk[si], 1.)), z + .7 * j, BIKE, False, True)
    for _ in range(rng.poisson(d['n_tree'])):
        si, z = rng.integers(2), rng.uniform(4, 50)
        X, hc = sides[si] * (rh + rng.uniform(.5, max(.6, walk[si]))), rng.uniform(4, 7)
        add(z, _tree, X, z, hc)
    for _ in range(rng.poisson(d['n_pole'])):
        si, z = rng.integers(2), 3 + rng.exponential(18)
        add(z, _pole, sides[si] * (rh + rng.uniform(.3, .8)), z, sides[si])
    if rng.random() < d['p_void']:  # unlabelled clutter (bins, boxes) on the sidewalk
        si, z = rng.integers(2), rng.uniform(3, 25)
        X = sides[si] * (rh + rng.uniform(.3, max(.4, walk[si])))
        add(z, _clutter, X, z)
    for z, fn, a in sorted(objs, key=lambda o: -o[0]):
        fn(cv, *a)
    if rng.random() < d['p_ego']:  # ego-vehicle bonnet (void), as in Cityscapes
        xr = (np.arange(cv.W) + .5 - cv.W / 2) / (cv.W / 2)
        top = cv.H * (1 - rng.uniform(.07, .12) + rng.uniform(.04, .07) * xr ** 2)
        m = (np.arange(cv.H)[:, None] + .5) >= top[None]
        cv.lab[m] = IGNORE_INDEX
        cv.col[m] = np.array([40, 42, 46], np.float32) * rng.uniform(.7, 1.3)


def _tree(cv, X, Z, hc):
    crown = cv.colour(VEG)
    cv.rect(X - .15, X + .15, 0, hc - 1, Z, VEG, cv.part(crown, 'trunk'), minw=1)
    for _ in range(3):
        o = cv.rng.uniform(-1, 1, 2)
        cv.ellipse(X + o[0], hc + .6 * o[1], cv.rng.uniform(1.2, 2.8), cv.rng.uniform(1.1, 2.2), Z, VEG, crown)


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


def _paths(root, split_id, i, n):
    """(image, label) paths of image i of n: GTA5 layout for the source, Cityscapes for the target."""
    if split_id == 0:
        return root / f'source/images/{i + 1:05d}.png', root / f'source/labels/{i + 1:05d}_labelTrainIds.png'
    sub, city = ('train', TRAIN_CITIES[i * len(TRAIN_CITIES) // n]) if split_id == 1 else ('val', VAL_CITY)
    stem = f'{sub}/{city}/{city}_000000_{i:06d}'
    return (root / f'target/leftImg8bit/{stem}_leftImg8bit.png',
            root / f'target/gtFine/{stem}_gtFine_labelTrainIds.png')


def _work(task):
    root, seed, split_id, i, n, H, W = task
    img, lab = render_sample(seed, split_id, i, H, W)
    ip, lp = _paths(root, split_id, i, n)
    Image.fromarray(img).save(ip)
    Image.fromarray(lab).save(lp)
    return split_id, np.bincount(lab.ravel(), minlength=256)


def _progress(n):
    """A progress bar on stderr (mmengine, else tqdm, else None)."""
    try:
        from mmengine.utils import ProgressBar
        return ProgressBar(n, file=sys.stderr)
    except ImportError:
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        return tqdm(total=n, file=sys.stderr)


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    return True


def file_record(root):
    """{folder: {'files': number of PNGs, 'bytes': their total size}} of the FOLDERS under `root`
    (sub-folders included, dot files left out): what meta.json records, checked on every load
    (one stat per file, no decoding)."""
    def walk(path):
        files = size = 0
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            return 0, 0
        for e in entries:
            if e.name.startswith('.'):
                continue
            if e.is_dir(follow_symlinks=False):
                f, b = walk(e.path)
                files, size = files + f, size + b
            elif e.name.endswith('.png'):
                files, size = files + 1, size + e.stat().st_size
        return files, size
    out = {}
    for folders in FOLDERS.values():
        for folder in folders:
            files, size = walk(os.path.join(root, folder))
            out[folder] = dict(files=files, bytes=size)
    return out


def _read_params(root):
    return json.loads((root / 'meta.json').read_text())['params']


def generate_synthshift(root, seed=0, num_source=3000, num_target_train=500, num_target_val=300,
                        height=64, width=128, progress=True, workers=None):
    """Generate SynthShift under `root` unless already there; return `root` as a Path.

    Image i of split s is drawn from np.random.default_rng([seed, s, i]) (s: 0 source, 1 target
    train, 2 target val), so the files do not depend on `workers` (default min(2, cpu count);
    0 or 1: in-process). Written into the sibling `root.tmp-<pid>` and renamed at the end
    (atomic), after every file and folder was fsynced (durable: a power loss cannot leave a
    complete-looking folder with truncated files); meta.json records each folder's number of
    files and bytes (`file_record`), which `ensure_synthshift` checks on load. Raises ValueError
    if `root` holds a SynthShift generated with other parameters (or is a non-empty folder
    without meta.json).
    """
    root = pathlib.Path(root)
    params = dict(version=VERSION, seed=seed, num_source=num_source, num_target_train=num_target_train,
                  num_target_val=num_target_val, height=height, width=width)
    if (root / 'meta.json').exists():
        if _read_params(root) == params:
            return root
        raise ValueError(f'{root} holds SynthShift generated with {_read_params(root)}, not {params}')
    if root.is_file() or (root.exists() and any(root.iterdir())):
        raise ValueError(f'{root} exists and is not a SynthShift root (no meta.json)')
    for old in root.parent.glob(f'{root.name}.tmp-*'):  # leftovers of killed generations
        if not _alive(old.name.rsplit('-', 1)[1]):
            shutil.rmtree(old, ignore_errors=True)
    tmp = root.parent / f'{root.name}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    sizes = (num_source, num_target_train, num_target_val)
    tasks = [(tmp, seed, sid, i, sizes[sid], height, width) for _, sid in SPLITS for i in range(sizes[sid])]
    counts, shares = np.zeros((3, 256), np.int64), np.zeros((3, 256), np.int64)
    try:
        for d in {p.parent for t in tasks for p in _paths(t[0], *t[2:5])}:
            d.mkdir(parents=True, exist_ok=True)
        workers = min(2, os.cpu_count() or 1) if workers is None else workers
        bar = _progress(len(tasks)) if progress else None
        with Pool(max(workers, 1)) if workers > 1 else contextlib.nullcontext() as pool:
            for sid, cnt in (pool.imap_unordered(_work, tasks, chunksize=8) if pool else map(_work, tasks)):
                counts[sid] += cnt
                shares[sid] += cnt > 0
                bar is not None and bar.update()
        if bar is not None:
            bar.close() if hasattr(bar, 'close') else sys.stderr.write('\n')
        meta = dict(params=params, classes=list(CITYSCAPES_CLASSES), frequencies={}, image_share={}, void_fraction={})
        for name, sid in SPLITS:
            lab = max(counts[sid, :19].sum(), 1)
            meta['frequencies'][name] = {c: round(k / lab, 6) for c, k in zip(CITYSCAPES_CLASSES, counts[sid].tolist())}
            meta['image_share'][name] = {c: round(k / max(sizes[sid], 1), 4)
                                         for c, k in zip(CITYSCAPES_CLASSES, shares[sid].tolist())}
            meta['void_fraction'][name] = round(counts[sid, IGNORE_INDEX].item() / max(counts[sid].sum(), 1), 6)
        meta['files'] = file_record(tmp)
        (tmp / 'meta.json').write_text(json.dumps(meta, indent=1))
        fsync_tree(tmp)
        try:
            os.replace(tmp, root)
        except OSError:  # a concurrent generation finished first
            if not ((root / 'meta.json').exists() and _read_params(root) == params):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            fsync_dir(root.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
