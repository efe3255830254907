"""The retrain function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("retrain: see README, unfinished")
