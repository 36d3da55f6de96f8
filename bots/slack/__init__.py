"""The Slack bridge: a thread per conversation in a channel, agents answer in the thread.

slack-bolt's asyncio app receives the Events API, interactivity and slash commands (over
HTTP on ``/slack/events`` or over Socket Mode); slack_sdk's ``AsyncWebClient`` posts.
"""
