"""MLflow models-from-code file: the pyfunc model of a predictor bundle.

MLflow copies this file into every logged model and runs it on load; it defines the model as
code, so no pickle is written or read. ``PredictorPyfunc.load_context`` loads the ``bundle``
artifact (XGBoost JSON and plain JSON) and checks its content hash. Not imported by the package.
"""

from predictor.tracking import set_pyfunc_model

set_pyfunc_model()
