from predictor.cli import app

app(prog_name="predictor")
