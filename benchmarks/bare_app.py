"""The baseline: a bare Flask app with one route returning a short text.

Served by gunicorn exactly like the real app (`gunicorn --chdir benchmarks 'bare_app:app'`), so
the ratio app/bare shows what the app's own work costs, whatever the machine's speed.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "ok"
