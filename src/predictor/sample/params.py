"""The sample business's parameters: category lists with their shares and effects, and rates.

Names without a leading underscore (``PLANS``, ``COUNTRIES``, ...) are the values the generated
tables hold; the others are the hidden process's constants (see ``predictor.sample``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Mode = Literal["subscription", "retail"]

NEVER = 1 << 30
"""Day index meaning "never" (a step not completed, a customer still alive)."""
_NO_TICKET = -(1 << 20)
_DAY_NS = 86_400 * 10**9
_MODE_KEY = {"subscription": 1, "retail": 2}

STEPS = ("account_created", "profile_completed", "first_purchase", "app_installed",
         "tutorial_completed")  # fmt: skip
ACQ_CHANNELS = ("paid_search", "organic", "social", "referral", "affiliate", "email")
_ACQ_P = np.array([0.28, 0.24, 0.16, 0.10, 0.09, 0.13])
_ACQ_SPEND = np.array([0.0, 0.05, -0.15, 0.15, -0.10, 0.05])
_ACQ_RATE = np.array([0.0, 0.10, -0.10, 0.20, -0.20, 0.15])
_ACQ_HAZ = np.array([0.10, -0.15, 0.20, -0.30, 0.30, -0.10])
_ACQ_ONB = np.array([0.0, 0.10, -0.20, 0.30, -0.30, 0.10])
_ACQ_SAT = np.array([0.0, 0.05, -0.10, 0.20, -0.15, 0.05])
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "ES")
_COUNTRY_P = np.array([0.42, 0.15, 0.12, 0.09, 0.08, 0.06, 0.05, 0.03])
_COUNTRY_SPEND = np.array([0.10, 0.0, 0.05, -0.05, 0.05, 0.10, 0.0, -0.15])
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_P = np.array([0.14, 0.27, 0.23, 0.17, 0.12, 0.07])
_AGE_SPEND = np.array([-0.25, -0.05, 0.10, 0.15, 0.10, 0.0])
_AGE_RATE = np.array([0.10, 0.05, 0.0, 0.0, -0.05, -0.10])
_AGE_HAZ = np.array([0.25, 0.10, 0.0, -0.10, -0.15, -0.10])
_AGE_ONB = np.array([0.20, 0.15, 0.0, -0.05, -0.15, -0.30])
DEVICES = ("ios", "android", "desktop")
_DEVICE_P = np.array([0.38, 0.34, 0.28])
_DEVICE_SPEND = np.array([0.15, -0.10, 0.05])
PRODUCT_LINES = ("apparel", "electronics", "home", "beauty", "grocery", "subscription")
_PL_P = np.array([0.30, 0.12, 0.20, 0.18, 0.20])
_PL_PRICE = np.array([1.0, 2.6, 1.4, 0.6, 0.7])
_PL_MARGIN = np.array([0.45, 0.12, 0.35, 0.55, 0.20])
_PL_REFUND = np.array([0.12, 0.06, 0.05, 0.03, 0.02])
_PL_OWN = 0.5  # chance an order is in the customer's favourite product line
_REFUND_FRAC = 0.85  # mean refunded share (70% full refunds, 30% partial 20-80%)
_REFUND_COST = 0.05  # handling cost of a refund, share of the order amount
ORDER_CHANNELS = ("web", "app", "store", "phone", "subscription")
_OCH_P = np.array([0.55, 0.25, 0.12, 0.08])
TICKET_CHANNELS = ("email", "phone", "chat", "live_chat", "social")
_LIVE = 3
_TCH_P = np.array([0.38, 0.20, 0.22, 0.08, 0.12])
_RES_MEDIAN_H = np.array([30.0, 6.0, 3.0, 0.6, 20.0])
TICKET_CATEGORIES = ("billing", "delivery", "product", "account", "technical")
_CAT_P = np.array([0.22, 0.30, 0.22, 0.12, 0.14])
PLANS = ("basic", "plus", "premium")
_PLAN_PRICE = np.array([15.0, 29.0, 49.0])
_PLAN_HAZ = np.array([1.15, 1.0, 0.8], dtype=np.float32)
_SUB_MARGIN = 0.85
ENGAGE_CHANNELS = ("email", "sms", "push", "web", "app", "store", "social")
_ENGAGE_W = np.array([0.30, 0.05, 0.10, 0.25, 0.18, 0.06, 0.06])
INTERACTION_KINDS = ("sent", "open", "click", "visit", "session")
# (channel index in ENGAGE_CHANNELS, kind index in INTERACTION_KINDS)
_ITYPES = np.array(
    [[0, 0], [0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1], [3, 3], [4, 4], [5, 3], [6, 2]]
)
_SEND_RATES = {0: 0.25, 3: 0.10, 5: 0.20}  # interaction type -> sends per week

# Behaviour (the planted effects). Hazards are per day.
_H0 = {"subscription": 0.0006, "retail": 0.0008}
_EARLY_DAYS = 42  # onboarding phase: missing steps raise the hazard a lot
_EARLY_K = 0.9
_LATE_K = 0.12
_BREADTH = np.array([2.2, 2.2, 1.4, 0.85, 0.6, 0.45, 0.4, 0.4])  # by engaged channels
_SAT_H = 0.45
_ENG_H = 0.35
_GRIEV_H = 0.006  # additive daily hazard per unit of grievance
_GRIEV_DECAY = 0.85
_BAD_HOURS = 72.0
_QUICK_HOURS = 4.0
_REPEAT_DAYS = 28
_RATE_WEEK = {"subscription": 0.03, "retail": 0.09}  # mean orders per week
_LOYAL_SCALE = 3.0
_LOYAL_RATE = 0.35
_LOYAL_AOV = 0.25
_ORDER_SIGMA = 0.55
_TICKETS_WEEK = 0.018
_NPS_FIRST, _NPS_EVERY, _NPS_RESPONSE = 30, 180, 0.3
_UNSUB_DAYS = 120.0
_FADE_ON = 0.006  # weekly chance to start fading, before the satisfaction/grievance effects
_FADE_SAT = 0.6  # low satisfaction raises the chance: x exp(-_FADE_SAT x satisfaction)
_FADE_GRIEV = 1.0  # grievance raises it: x (1 + _FADE_GRIEV x grievance)
_FADE_SPEED = 0.3  # median weekly growth of the fade level (individual, lognormal)
_FADE_SPEED_SD = 0.5
_FADE_H = 1.4  # hazard multiplier exp(_FADE_H x fade)
_FADE_RECOVER = 0.02  # weekly chance that a fading customer recovers (fade back to 0)
_FADE_MAX = 8.0  # the fade level stops growing here (the hazard is capped long before)
_MC_ELEMENTS = 262_144
_TENURE = (0.8 + 0.5 * np.exp(-np.arange(4096) / 180.0)).astype(np.float32)  # by age in days
_LOYALTY = (1.0 - np.exp(-np.arange(64) / _LOYAL_SCALE)).astype(np.float32)  # by orders so far
_SHOCK = np.sqrt(12.0)  # scales a centred uniform to unit variance

F32 = np.float32  # state and rates: float32 is several times faster here and precise enough
I32 = np.int32  # day numbers and counts
_SAT_RHO, _SAT_SD = 0.97, 0.12  # weekly AR(1) of satisfaction
_ENG_RHO, _ENG_SD = 0.9, 0.2  # weekly AR(1) of engagement
