"""Operator commands' logic that works on AWS as well as on the one-machine runtime.

``ocrpipe replay`` and ``ocrpipe backfill`` take ``--aws``: then they act on a deployed stage
with the operator's own credentials (EventBridge StartReplay, S3 listings and PutEvents) and
no emulator at all; without it, on the local stack. Their logic lives here, apart from the
runtime (the rest of :mod:`ocrpipe_local`: stack, emulator, workers, provisioning, durable
state, the local HTTP API, ...), which exists only on this machine. The command-line side of
both is in :mod:`ocrpipe_local.cli`.
"""
