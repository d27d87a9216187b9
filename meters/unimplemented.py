"""Servicers for API surface that is declared but not built yet.

Every method answers UNIMPLEMENTED with an ErrorInfo naming the method, so a
client sees a clear, stable status instead of a hang or a crash.
"""

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from meters.errors import DomainError
from meters.server import Registration, serve
from meters.settings import ServiceSettings


def _error(method: str) -> DomainError:
    return DomainError(grpc.StatusCode.UNIMPLEMENTED, "METHOD_NOT_IMPLEMENTED", f"{method} is not implemented yet",
                       metadata={"method": method})


def unimplemented_servicer(service: ServiceDescriptor) -> object:
    methods = {}
    for method in service.methods:
        full = f"{service.full_name}/{method.name}"
        if method.server_streaming:
            async def handler(self, request, context, _full=full):
                raise _error(_full)
                yield  # an async generator, as streaming handlers are

        else:
            async def handler(self, request, context, _full=full):
                raise _error(_full)

        methods[method.name] = handler
    return type(f"Unimplemented{service.name}", (), methods)()


async def serve_unimplemented(settings: ServiceSettings, service_module, grpc_module, name: str) -> None:
    """Serve `name` from the generated modules with every method UNIMPLEMENTED."""
    service = service_module.DESCRIPTOR.services_by_name[name]
    add = getattr(grpc_module, f"add_{name}Servicer_to_server")
    await serve(settings, [Registration(add, unimplemented_servicer(service), service.full_name)])
