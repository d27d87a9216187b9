"""The customer service: `python -m customer_svc.server`. Its API (proto/meters/customer/v1) answers
UNIMPLEMENTED until its domain logic lands; health, reflection and /metrics work."""

import asyncio

from customer_svc.config import CustomerSettings
from meters import log
from meters.customer.v1 import customer_service_pb2, customer_service_pb2_grpc
from meters.unimplemented import serve_unimplemented

if __name__ == "__main__":
    settings = CustomerSettings()
    log.configure("customer_svc", settings.log_level)
    asyncio.run(serve_unimplemented(settings, customer_service_pb2, customer_service_pb2_grpc, "CustomerService"))
