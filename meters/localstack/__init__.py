"""Real PostgreSQL and Kafka servers on loopback for tests, demos and benchmarks.

No Docker: PostgreSQL comes from the Debian package, Kafka (KRaft, single node)
from Maven Central jars cached under ~/.cache/meters. See stack.LocalStack.
"""

from meters.localstack.common import StartError
from meters.localstack.kafka import LocalKafka, ensure_kafka_jars
from meters.localstack.postgres import LocalPostgres
from meters.localstack.stack import LocalStack

__all__ = ["LocalKafka", "LocalPostgres", "LocalStack", "StartError", "ensure_kafka_jars"]
