from django.urls import path

from chats.realtime.consumer import ChatConsumer

websocket_urlpatterns = [path("ws/", ChatConsumer.as_asgi())]
