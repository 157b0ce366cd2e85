"""SynthShift's scene layout: sky, ground, facades along the street and the objects placed on it,
painted far to near into a `_Canvas`. Part of the SynthShift generator."""
import numpy as np

from adasweep_base.classes import IGNORE_INDEX
from .synthshift_canvas import (BIKE, BUILDING, BUS, CAR, FENCE, MOTO, ROAD, SIDEWALK, SKY, TERRAIN,
                                TRAIN, TRUCK, VEG, WALL)
from .synthshift_objects import _clutter, _person, _pole, _tree, _two_wheeler, _vehicle


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

