"""The WeChat official-account channel (公众号): `GET/POST /wechat`, see README "WeChat official account"."""

from api.channels.wechat.router import router

__all__ = ["router"]
