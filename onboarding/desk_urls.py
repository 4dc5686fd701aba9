"""The compliance officer's review desk."""
from django.urls import path

from . import desk

app_name = "desk"
urlpatterns = [
    path("", desk.queue, name="queue"),
    path("mine/", desk.my_work, name="mine"),
    path("cases/<int:case_id>/", desk.case_page, name="case"),
    path("cases/<int:case_id>/decide/<str:action>/", desk.decide, name="decide"),
    path("cases/<int:case_id>/assign/", desk.assign, name="assign"),
]
