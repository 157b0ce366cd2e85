"""SynthShift's street objects (persons, two-wheelers, vehicles, poles, trees, clutter), each
painted into a `_Canvas` from its own random stream. Part of the SynthShift generator."""
import numpy as np

from adasweep_base.classes import IGNORE_INDEX
from .synthshift_canvas import BUS, CAR, LIGHT, MOTO, PERSON, POLE, RIDER, SIGN, SRC_PAL, TRAIN, TRUCK, VEG


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


def _tree(cv, X, Z, hc):
    crown = cv.colour(VEG)
    cv.rect(X - .15, X + .15, 0, hc - 1, Z, VEG, cv.part(crown, 'trunk'), minw=1)
    for _ in range(3):
        o = cv.rng.uniform(-1, 1, 2)
        cv.ellipse(X + o[0], hc + .6 * o[1], cv.rng.uniform(1.2, 2.8), cv.rng.uniform(1.1, 2.2), Z, VEG, crown)

