"""localcloud: a Docker-free local AWS cloud.

moto, in-process, answers every AWS API call (the control plane); the modules of
this package make what moto stores run (the data plane): Lambda workers, API
Gateway REST APIs, S3 websites, CloudFormation extensions, IoT rules, SQS event
source mappings and RDS PostgreSQL instances.

The package knows nothing of any application deployed into it.
"""

__version__ = "0.1.0"
