"""URLconf for the error tests: the real routes plus one API view and one page that fail unexpectedly."""
from django.urls import include, path
from rest_framework.decorators import api_view, authentication_classes, permission_classes


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def failing_api_view(request):
    raise ZeroDivisionError("a bug")


def failing_page(request):
    raise ZeroDivisionError("a bug")


urlpatterns = [
    path("api/v1/failing/", failing_api_view),
    path("failing-page/", failing_page),
    path("", include("config.urls")),
]
