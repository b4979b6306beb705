from django.urls import path

from chats import views

app_name = "chats"

urlpatterns = [
    path("", views.chat_list, name="list"),
    path("new/", views.chat_new, name="new"),
    path("start/", views.chat_start, name="start"),
    path("<int:chat_id>/", views.chat_detail, name="detail"),
    path("<int:chat_id>/send/", views.chat_send, name="send"),
    path("<int:chat_id>/read/", views.chat_read, name="read"),
    path("<int:chat_id>/messages/<int:seq>/report/", views.message_report, name="report_message"),
    path("<int:chat_id>/block/", views.chat_block, name="block"),
    path("<int:chat_id>/unblock/", views.chat_unblock, name="unblock"),
]
