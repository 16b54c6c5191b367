"""ocrpipe shared package: what every service needs and nothing else.

* :mod:`ocrpipe.events`    event contracts (the only coupling between services)
* :mod:`ocrpipe.envelope`  parsing the EventBridge envelope consumers receive
* :mod:`ocrpipe.bus`       publishing events to the bus
* :mod:`ocrpipe.topology`  naming rules, and reading each service's own declaration
* :mod:`ocrpipe.settings`  typed settings from environment variables
* :mod:`ocrpipe.storage`   S3 URIs
* :mod:`ocrpipe.aws`       shared boto3 clients
"""
