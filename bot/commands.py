"""The command list: drives /help (only what this person may do here) and setMyCommands per language."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_


@dataclass(frozen=True)
class CommandInfo:
    name: str
    description: str  # untranslated; translated per reader
    where: str  # private | group | both
    who: str = "anyone"  # anyone | member | coordinator | admin | translator


COMMANDS: tuple[CommandInfo, ...] = (
    CommandInfo("start", N_("Welcome and what I can do"), "private"),
    CommandInfo("help", N_("The commands you can use here"), "both"),
    CommandInfo("language", N_("Choose your language"), "both"),
    CommandInfo("setup", N_("Register this group as a network"), "group", "admin"),
    CommandInfo(
        "settings",
        N_("Network settings: time zone, language, meetings, coordinators"),
        "group",
        "coordinator",
    ),
    CommandInfo("newevent", N_("Announce an event"), "both", "member"),
    CommandInfo("events", N_("Upcoming events"), "both"),
    CommandInfo("event", N_("Show one event"), "both"),
    CommandInfo("editevent", N_("Change the time or place of an event"), "both", "member"),
    CommandInfo("cancelevent", N_("Cancel an event"), "both", "member"),
    # issue 13: help, places and interpreters
    CommandInfo("addtask", N_("Ask for helpers for a task at an event"), "both", "member"),
    CommandInfo("tasks", N_("An event's tasks and who helps"), "both"),
    CommandInfo("removetask", N_("Remove a task from an event"), "both", "member"),
    CommandInfo("places", N_("Limit the places at an event (0: no limit)"), "both", "member"),
    CommandInfo("addguest", N_("Give a place to a guest without Telegram"), "both", "coordinator"),
    CommandInfo("interpreters", N_("Who needs an interpreter, and confirm one"), "both", "coordinator"),
    CommandInfo("subscribe", N_("Follow a network's events and reminders"), "both"),
    CommandInfo("unsubscribe", N_("Stop following a network"), "private"),
    CommandInfo("reminders", N_("Choose when you are reminded"), "private"),
    CommandInfo("newmeeting", N_("Schedule a meeting"), "group", "coordinator"),
    CommandInfo("meetings", N_("The next meeting dates"), "both"),
    CommandInfo("additem", N_("Send an item for the next meeting's agenda"), "both", "member"),
    CommandInfo("agenda", N_("The agenda of the next meeting"), "both"),
    CommandInfo("attach", N_("Attach a file to an agenda item (reply to the file)"), "both", "member"),
    CommandInfo("todo", N_("Note an action item: who does what, by when"), "both", "member"),
    CommandInfo("todos", N_("The open action items"), "both"),
    CommandInfo("standing", N_("The standing items on every agenda"), "group"),
    CommandInfo("attendance", N_("Who comes to a meeting, who sent regrets"), "both", "coordinator"),
    CommandInfo("movemeeting", N_("Move a meeting to another time"), "both", "coordinator"),
    CommandInfo("cancelmeeting", N_("Cancel a meeting"), "both", "coordinator"),
    CommandInfo("vote", N_("Open a vote by show of hands"), "group", "coordinator"),
    CommandInfo("closevote", N_("Close a vote and record the decision"), "group", "coordinator"),
    CommandInfo("handcount", N_("Record a show of hands in the room"), "group", "coordinator"),
    CommandInfo("minutes", N_("Circulate the minutes of a meeting"), "group", "coordinator"),
    CommandInfo("decisions", N_("Search the decisions log"), "both"),
    CommandInfo(
        "parent", N_("Link this group as a working group of another network"), "group", "coordinator"
    ),
    CommandInfo("broadcast", N_("Send a message to every follower"), "both", "coordinator"),
    CommandInfo("invite", N_("A printable invitation with the QR code to follow"), "both", "coordinator"),
    CommandInfo("deliveries", N_("Messages that could not be delivered"), "both", "coordinator"),
    CommandInfo("translate", N_("Texts waiting for your translation"), "private", "translator"),
    CommandInfo("mydata", N_("Everything I store about you"), "private"),
    CommandInfo("forgetme", N_("Delete everything I store about you"), "private"),
    CommandInfo("cancel", N_("Leave the current dialogue"), "both"),
)

BY_NAME = {c.name: c for c in COMMANDS}


def visible(where: str, roles: set[str]) -> list[CommandInfo]:
    """Commands for a chat type ('private' or 'group') and the roles the person has there."""
    out = []
    for c in COMMANDS:
        if c.where not in (where, "both"):
            continue
        if c.who in ("anyone", "member") or c.who in roles:
            out.append(c)
    return out
