"""Notifications to people (及时推送到相关部门和岗位): contacts, channels, routing, escalation, the log."""
