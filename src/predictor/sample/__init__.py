"""The built-in sample business: a simulated company whose hidden truth is known.

``generate_sample`` simulates the customers of a subscription or a retail business and returns
the seven contract tables plus every customer's hidden traits. ``ground_truth`` and
``day_one_truth`` return the benchmark answers (true churn probability, expected 13-month
value) computed from the exact hidden state at a cutoff. Truth is never a model input.

Why it exists: models need realistic data whose observable signals carry real but noisy
information, and benchmarks need to know what the best possible prediction is.

The process (one draw of it is the data; the truth simulates more draws of the same process):

* Customers sign up throughout the span (growth plus January and Q4 peaks). Attributes
  (acquisition channel, country, age band, device, household size) shift hidden traits
  (spend level, purchase rate, base churn hazard, onboarding propensity, ...) with heavy noise.
* Time advances in weekly steps, vectorised over customers; inside a week everything happens
  on calendar days. A customer is alive or not; death is absorbing (subscription: all
  subscriptions end; retail: silent, the customer simply stops buying and engaging).
* Daily churn hazard = base hazard x onboarding (missing steps raise it a lot in the first six
  weeks) x tenure x channel breadth x exp(-satisfaction, -engagement) x plan, plus an additive
  term from grievance (bad support tickets: slow, poorly handled, repeated).
* Orders are Poisson (rate grows with loyalty and engagement, Q4 seasonality) with lognormal
  amounts by product line, refunds as later negative rows; in subscription mode each monthly
  charge is also an order (channel and product line ``"subscription"``), so orders carry all
  revenue. Tickets, interactions (sends keep coming for a while after a silent churn) and NPS
  answers are emitted from the hidden state.
* Pre-churn fading (the behaviour a real product shows before a cancellation): each week a
  customer who is not fading starts to fade with a small probability that scales with the
  customer's base hazard and rises with low satisfaction (which also drives low NPS answers and poorly rated tickets) and with grievance
  (bad, slow or repeated support tickets). A fading customer's fade level then grows every
  week by an individual speed (a hidden trait, lognormal), unless the customer recovers (a
  small weekly chance). The fade level lowers the effective engagement: interactions, orders
  and NPS scores drop week by week, tickets become more frequent, downgrades more likely,
  and it multiplies the churn hazard by ``exp(_FADE_H x fade)``. So engagement decays over
  the weeks before most cancellations, at a speed that differs between customers.
* State (satisfaction, engagement, grievance, fade, order count, plan) is updated at each
  week's end. The truth replays the same seeded draws to the cutoff, then simulates futures without
  death and weights every future event by the probability of being alive then (survival
  weighting: exact in expectation, low variance).

Conventions of the generated data: ``signup_date``, subscription ``start_date``/``end_date``
are midnights (a subscription ending on day ``d`` no longer covers the end of ``d``); events
carry a time of day and none falls after the last day (``end_date``). Refunds are separate
order rows 2-21 days after the purchase (negative amount, margin and items). ``first_purchase``
is the first purchase that is not a subscription charge. Marketing sends (kind ``sent``)
continue for a while after a customer churned; engagement does not. A ticket's ``csat`` is
only known once it is resolved (mask it with ``resolved_at`` at a cutoff).

Pure: no file I/O and no clock; all randomness comes from generators seeded by ``seed``.

The modules: ``generator`` (``generate_sample``), ``params`` (the process's parameters),
``world`` (customers, acquisition and hidden traits), ``weeks`` (the weekly process: hazard,
draws, state), ``emit`` (event rows from the draws), ``frames`` (the contract tables),
``truth`` (``ground_truth``, ``day_one_truth``) and ``snapshot`` (``generate_snapshot``: the
single-snapshot data set with a logistic truth). The vocabularies (``STEPS``, ``ORDER_CHANNELS``,
...) are in ``params``. ``usage`` (``generate_usage``, ``usage_truth``), with ``usage_process``
and ``usage_frames``, is a separate usage-heavy B2B subscription sample: daily product usage
driven by a hidden account health (its mechanism is in ``predictor.sample.usage``).
"""

from predictor.sample.generator import SampleBusiness, generate_sample
from predictor.sample.params import PLANS, Mode
from predictor.sample.snapshot import SnapshotSample, generate_snapshot
from predictor.sample.truth import day_one_truth, ground_truth

__all__ = [
    "PLANS",
    "Mode",
    "SampleBusiness",
    "SnapshotSample",
    "day_one_truth",
    "generate_sample",
    "generate_snapshot",
    "ground_truth",
]
