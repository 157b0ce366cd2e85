"""SynthShift's look and camera: class ids, the source / target palettes and domain statistics,
and `_Canvas` (label / colour buffers with a pinhole camera and the primitives that paint into them).
Part of the SynthShift generator (`synthshift_generator`)."""
import numpy as np

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEG, TERRAIN, SKY, PERSON, RIDER, CAR,
 TRUCK, BUS, TRAIN, MOTO, BIKE) = range(19)

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
