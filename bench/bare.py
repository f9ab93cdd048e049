"""A bare Flask route with a body of BENCH_BODY_SIZE bytes: the baseline bench/throughput.py
measures beside the dialog, under the same gunicorn settings."""

import os

from flask import Flask

app = Flask(__name__)
BODY = "x" * int(os.environ.get("BENCH_BODY_SIZE", "3000"))


@app.get("/bare")
def bare():
    return BODY, 200, {"Content-Type": "text/html; charset=utf-8"}
