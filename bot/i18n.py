"""The UI strings, Korean and English, in one table."""

from __future__ import annotations

LANGUAGES = ("ko", "en")

_STRINGS: dict[str, dict[str, str]] = {
    "link": {"ko": "링크", "en": "link"},
    "image": {"ko": "이미지", "en": "image"},
    "read_more": {"ko": "기사 보기", "en": "Read more"},
    "help": {
        "ko": "{site}의 속보 봇입니다. 새 글이 올라오면 바로 알려 드립니다.",
        "en": "Breaking-news alerts from {site}: new posts, the moment they go live.",
    },
    "admin_command": {"ko": "관리자: {text}", "en": "admins: {text}"},
    "subscribed_all": {
        "ko": "이 채팅에서 모든 새 글을 알려 드립니다.",
        "en": "This chat now gets every new post.",
    },
    "subscribed_some": {
        "ko": "이 채팅에서 다음 카테고리의 새 글을 알려 드립니다: {names}",
        "en": "This chat now gets new posts in: {names}",
    },
    "unsubscribed_all": {
        "ko": "이 채팅의 알림을 모두 껐습니다.",
        "en": "This chat gets no more alerts.",
    },
    "unsubscribed_some": {
        "ko": "다음 카테고리의 알림을 껐습니다: {names}",
        "en": "No more alerts for: {names}",
    },
    "subscriptions_all": {
        "ko": "이 채팅은 모든 새 글을 받습니다.",
        "en": "This chat gets every new post.",
    },
    "subscriptions_some": {
        "ko": "이 채팅이 받는 카테고리: {names}",
        "en": "This chat gets: {names}",
    },
    "subscriptions_none": {
        "ko": "이 채팅은 알림을 받지 않습니다. /subscribe 로 시작하세요.",
        "en": "This chat gets no alerts. Start with /subscribe.",
    },
    "categories": {"ko": "카테고리:", "en": "Categories:"},
    "no_categories": {"ko": "아직 카테고리가 없습니다.", "en": "No categories yet."},
    "latest": {"ko": "최신 글:", "en": "Latest posts:"},
    "in_category": {"ko": "{name}의 최신 글:", "en": "Latest in {name}:"},
    "no_posts": {"ko": "아직 글이 없습니다.", "en": "No posts yet."},
    "unknown_category": {
        "ko": "'{name}' 카테고리가 없습니다.",
        "en": "There is no category '{name}'.",
    },
    "no_posts_in": {
        "ko": "아직 글이 없는 카테고리입니다: {names}",
        "en": "No posts in these categories yet: {names}",
    },
    "ask_close": {
        "ko": "'{typed}'라는 분류는 없습니다. {names}(으)로 구독할까요?",
        "en": "There is no category '{typed}'. Subscribe to {names} instead?",
    },
    "ask_unknown": {
        "ko": "'{typed}' 분류의 글은 아직 없습니다. 그래도 구독할까요?",
        "en": "No post is in '{typed}' yet. Subscribe anyway?",
    },
    "yes_instead": {"ko": "예, {names}", "en": "Yes, {names}"},
    "as_typed": {"ko": "아니요, 입력한 대로", "en": "No, as I typed it"},
    "yes": {"ko": "예", "en": "Yes"},
    "no": {"ko": "아니요", "en": "No"},
    "cancel": {"ko": "취소", "en": "Cancel"},
    "question_closed": {"ko": "이미 끝난 질문입니다.", "en": "That question is closed."},
    "not_your_question": {
        "ko": "질문한 분만 답할 수 있습니다.",
        "en": "Only the one who asked can answer.",
    },
    "left_as_it_was": {"ko": "그대로 둡니다.", "en": "Nothing changed."},
    "ask_retract": {
        "ko": "이 글을 회수할까요? {key} — {title}",
        "en": "Retract this post? {key} — {title}",
    },
    "did_you_mean": {"ko": "혹시 이것인가요? {names}", "en": "Did you mean: {names}"},
    "see_categories": {
        "ko": "/categories 로 목록을 보세요.",
        "en": "See /categories for the list.",
    },
    "capped": {"ko": "(한 번에 최대 {most}개)", "en": "(at most {most} at a time)"},
    "count_range": {"ko": "n은 1부터 {most}까지입니다.", "en": "n must be from 1 to {most}."},
    "needs_category": {
        "ko": "카테고리 이름을 적어 주세요: /category 이름 [n]",
        "en": "Name a category: /category NAME [n]",
    },
    "needs_key": {
        "ko": "글의 KEY, 경로 또는 주소를 적어 주세요: /{command} KEY",
        "en": "Give a post's KEY, path or URL: /{command} KEY",
    },
    "no_such_post": {"ko": "'{query}'에 맞는 글이 없습니다.", "en": "No post matches '{query}'."},
    "several_posts": {
        "ko": "여러 글이 맞습니다. KEY를 정확히 적어 주세요:",
        "en": "Several posts match; give the exact KEY:",
    },
    "reposted": {
        "ko": "다시 보냅니다: {key} ({targets}곳)",
        "en": "Reposting {key} to {targets} chat(s).",
    },
    "repost_progress": {
        "ko": "{sent:,}/{total:,} 전송 · {failed:,} 실패",
        "en": "{sent:,}/{total:,} sent · {failed:,} failed",
    },
    "reposted_here": {"ko": "이 채팅에 다시 보냅니다: {key}", "en": "Reposting {key} here."},
    "retracted": {
        "ko": "거둬들입니다: {key} (보낸 메시지를 지우고 남은 전송을 취소합니다)",
        "en": "Retracting {key}: sent messages are deleted, unsent ones cancelled.",
    },
    "paused": {
        "ko": "새 알림을 멈췄습니다. /resume 으로 다시 보냅니다.",
        "en": "New alerts are paused; /resume releases them.",
    },
    "resumed": {"ko": "알림을 다시 보냅니다.", "en": "Alerts are flowing again."},
    "status": {
        "ko": "대기 {queued} · 전송 {sent} · 재시도 {retrying} · 거부 {failed} · 포기 {dead} · 구독 {targets} · 읽지 못한 파일 {refused} · 마지막 스캔 {scan}{paused}",
        "en": "queued {queued} · sent {sent} · retrying {retrying} · failed {failed} · dead {dead} · subscribers {targets} · unreadable files {refused} · last scan {scan}{paused}",
    },
    "status_paused": {"ko": " · 일시 정지 중", "en": " · PAUSED"},
    "status_waiting": {
        "ko": "페이지를 기다리는 글 {count}건: {posts}",
        "en": "waiting for their pages: {posts}",
    },
    "waited": {"ko": "{key} ({minutes}분)", "en": "{key} ({minutes} min)"},
    "admins_only": {
        "ko": "봇 관리자만 쓸 수 있는 명령입니다.",
        "en": "Only the bot's admins can do that.",
    },
    "chat_admins_only": {
        "ko": "그룹에서는 채팅 관리자만 구독을 바꿀 수 있습니다.",
        "en": "In a group, only the chat's admins can change its subscription.",
    },
    "slow_down": {
        "ko": "명령이 너무 많습니다. {seconds}초 뒤에 다시 해 주세요.",
        "en": "Too many commands; try again in {seconds} s.",
    },
    "internal_error": {
        "ko": "문제가 생겨 답하지 못했습니다. 잠시 후 다시 해 보세요.",
        "en": "Something went wrong; please try again in a moment.",
    },
    "storage_busy": {
        "ko": "지금은 데이터베이스를 쓸 수 없어 답하지 못했습니다. 잠시 후 다시 해 보세요.",
        "en": "The database cannot be reached right now; please try again in a moment.",
    },
    "too_long": {
        "ko": "너무 깁니다. 명령 뒤에는 {most:,}자까지 적을 수 있습니다.",
        "en": "That is too long: a command takes at most {most:,} characters.",
    },
    "too_many_categories": {
        "ko": "카테고리는 한 번에 {most}개까지 적을 수 있습니다.",
        "en": "Name at most {most} categories at once.",
    },
    "repost_scheduled": {
        "ko": "{key}은(는) {when}에 게시될 예정이라 아직 보낼 수 없습니다. 그때 자동으로 알립니다.",
        "en": "{key} is scheduled for {when}; it goes out by itself then, and cannot be reposted before.",
    },
    "repost_unpublished": {
        "ko": "{key}은(는) 게시되지 않은 글(published: false)이라 보낼 수 없습니다.",
        "en": "{key} is not published (published: false), so it cannot be reposted.",
    },
    "unknown_command": {
        "ko": "모르는 명령입니다. /help 를 보세요.",
        "en": "Unknown command; see /help.",
    },
}


def t(string: str, language: str | None, /, **values: object) -> str:
    """Return UI string `string` in `language` (Korean when unknown), filled with `values`."""
    table = _STRINGS[string]
    text = table.get(language or "", table["ko"])
    return text.format(**values) if values else text


def counted(count: int, noun: str) -> str:
    """An English count with its noun: "1 post", "6,952 posts"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def language_of(code: str | None, fallback: str) -> str:
    """Pick ko or en from a platform's language code (`ko-KR`, `en_US`, None …)."""
    if code:
        base = code.replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return fallback
