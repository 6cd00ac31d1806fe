"""The console's words in Chinese (the default) and English.

Templates call ``t(key)``; a key missing in a language falls back to English, then to the
key itself, so a forgotten entry shows up as a readable key rather than a crash.
"""

from __future__ import annotations

from typing import Any

from edge.events import Reason

LANGUAGES = ("zh", "en")

# Words for reason codes, as a guard reads them.
REASONS: dict[str, tuple[str, str]] = {  # keyed by Reason (a str)
    Reason.PICKUP: ("接走", "Pickup"),
    Reason.DROPOFF: ("送入园", "Drop-off"),
    Reason.STAFF: ("教职工", "Staff"),
    Reason.VISITOR: ("访客", "Visitor"),
    Reason.DELEGATE: ("代接（一次性通行码）", "Delegate pickup (one-time pass)"),
    Reason.GUARD_OVERRIDE: ("门卫手动开门", "Opened by a guard"),
    Reason.EXIT_REQUEST: ("出门按钮", "Exit button"),
    Reason.EVACUATION: ("疏散中放行", "Evacuation"),
    Reason.UNKNOWN_CREDENTIAL: ("未登记的卡", "Unknown card"),
    Reason.REVOKED: ("卡已作废", "Card revoked"),
    Reason.EXPIRED: ("授权已过期", "Authorisation expired"),
    Reason.NOT_SCHOOL_DAY: ("今天不上学", "Not a school day"),
    Reason.OUTSIDE_WINDOW: ("不在接送时间内", "Outside the pickup and drop-off times"),
    Reason.BLOCKED_PERSON: ("禁止接送人员！", "BLOCKED PERSON!"),
    Reason.LOCKDOWN: ("封闭状态", "Lockdown"),
    Reason.WRONG_CHANNEL: ("该班级走其他通道", "This class uses another gate"),
    Reason.RATE_LIMITED: ("读卡器暂时锁定（连续无效卡）", "Reader locked (too many unknown cards)"),
    Reason.ALREADY_COLLECTED: ("孩子今天已被接走", "Child already collected today"),
    Reason.BAD_SIGNATURE: ("通行码无效", "Invalid pass"),
    Reason.WRONG_DATE: ("通行码不是今天的", "Pass is for another day"),
    Reason.ALREADY_USED: ("通行码已使用", "Pass already used"),
    Reason.EARLY_PICKUP: ("提前接走，需门卫确认", "Early pickup: needs a guard's approval"),
    Reason.OPENED: ("门已打开", "Door opened"),
    Reason.CLOSED: ("门已关闭", "Door closed"),
    Reason.HELD_OPEN: ("门长时间未关", "Door held open"),
    Reason.FORCED_OPEN: ("门被强行打开！", "Door forced open!"),
    Reason.LOCK_NOT_ENGAGED: ("门锁未锁上", "Lock not engaged"),
    Reason.NORMAL: ("恢复正常", "Normal"),
    Reason.EVACUATE: ("疏散", "Evacuation"),
    Reason.FIRE_ALARM: ("火警！", "Fire alarm!"),
    Reason.FIRE_ALARM_CLEARED: ("火警解除", "Fire alarm cleared"),
    Reason.TAMPER: ("设备被打开（防拆）", "Tamper switch"),
    Reason.ALARM_ACKNOWLEDGED: ("警报已知晓", "Alarm acknowledged"),
    Reason.VISITOR_IN: ("访客入园", "Visitor in"),
    Reason.VISITOR_OUT: ("访客离园", "Visitor out"),
    Reason.VISITOR_OVERSTAY: ("访客超时未离园", "Visitor overstayed"),
    Reason.LATE_PICKUP: ("超时未接", "Late pickup"),
    Reason.DEVICE_CHECK: ("每日设备检查", "Daily device check"),
    Reason.REPAIR_OPENED: ("报修", "Repair reported"),
    Reason.REPAIR_CLOSED: ("维修完成", "Repair closed"),
    Reason.NO_PENDING_APPROVAL: ("没有等待确认的提前接走", "No early pickup waiting"),
    Reason.FIRE_ALARM_ACTIVE: ("火警仍在，不能切换", "Fire alarm still active"),
    Reason.REFUSED: ("已拒绝", "Refused"),
    Reason.STARTED: ("系统启动", "Gate started"),
    Reason.STOPPED: ("系统停止", "Gate stopped"),
    Reason.BAD_READ: ("读卡失败", "Bad read"),
    Reason.READER_DOWN: ("读卡器故障", "Reader down"),
    Reason.READER_UP: ("读卡器恢复", "Reader back"),
    Reason.ROSTER_LOADED: ("名单已更新", "Roster updated"),
    Reason.BAD_READS_SUPPRESSED: ("多次读卡失败", "Repeated bad reads"),
    Reason.ROSTER_REJECTED: ("名单有误，未更新", "Roster rejected"),
    Reason.STALE: ("远程命令已过期", "Remote command too old"),
    Reason.REPLAYED: ("远程命令重复", "Remote command replayed"),
    Reason.MALFORMED: ("远程命令格式错误", "Malformed remote command"),
    Reason.UNKNOWN_COMMAND: ("未知的远程命令", "Unknown remote command"),
    Reason.CLOCK_UNSYNCED: (
        "系统时间未校准：接走需门卫确认",
        "Clock not synchronised: pickups need a guard",
    ),
    Reason.CLOCK_SYNCED: ("系统时间已校准", "Clock synchronised"),
    Reason.PURGE: ("按保存期限清理记录", "Old records purged"),
}

DECISIONS: dict[str, tuple[str, str]] = {
    "granted": ("放行", "GRANTED"),
    "denied": ("拒绝", "DENIED"),
    "needs_approval": ("待确认", "NEEDS APPROVAL"),
}

KINDS: dict[str, tuple[str, str]] = {
    "guardian": ("家长", "guardian"),
    "staff": ("教职工", "staff"),
    "child": ("幼儿", "child"),
    "visitor": ("访客", "visitor"),
    "delegate": ("代接人", "delegate"),
    "blocked": ("禁止接送人员", "blocked person"),
}

MODES: dict[str, tuple[str, str]] = {
    "normal": ("正常", "Normal"),
    "lockdown": ("封闭", "Lockdown"),
    "evacuate": ("疏散", "Evacuation"),
}

WORDS: dict[str, tuple[str, str]] = {
    "app": ("门卫控制台", "Guard console"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "user": ("用户名", "User name"),
    "secret": ("PIN 或密码", "PIN or password"),
    "bad_login": ("用户名或密码不对", "Wrong name or PIN"),
    "locked_out": (
        "尝试次数过多，请 {minutes} 分钟后再试",
        "Too many tries: wait {minutes} minutes",
    ),
    "session_needed": ("请先登录", "Please sign in"),
    "forbidden": (
        "拒绝：请求无效或已过期，请重新打开页面",
        "Refused: the form is stale or not yours; open the page again",
    ),
    "admin_only": ("仅管理员可用", "Administrators only"),
    "nav_live": ("实时", "Live"),
    "nav_control": ("门控", "Gate control"),
    "nav_visitors": ("访客", "Visitors"),
    "nav_rollcall": ("疏散点名", "Roll call"),
    "nav_check": ("设备检查", "Device check"),
    "nav_repairs": ("报修", "Repairs"),
    "nav_users": ("账号", "Accounts"),
    "mode": ("状态", "Mode"),
    "door": ("门", "Door"),
    "lock": ("锁", "Lock"),
    "door_open": ("开", "open"),
    "door_closed": ("关", "closed"),
    "lock_fault_banner": (
        "门锁未锁上：门已关、已上锁，但门锁没有锁住。请检查门锁！",
        "Lock not engaged: the gate relocked but its lock did not engage. Check the lock!",
    ),
    "lock_locked": ("已锁", "locked"),
    "lock_released": ("已开锁", "released"),
    "door_short_open": ("门开", "Door open"),
    "door_short_closed": ("门关", "Door shut"),
    "lock_short_locked": ("已锁", "Locked"),
    "lock_short_released": ("未锁", "Unlocked"),
    "check_done": ("今日设备检查：已完成", "Today's device check: done"),
    "check_not_done": ("今日设备检查：未完成", "Today's device check: NOT DONE"),
    "alarm_blocked": (
        "禁止接送人员在门口！不要放行，通知园长。",
        "Blocked person at the gate! Do not let them in; call the director.",
    ),
    "alarm_concerns": ("涉及幼儿", "Concerns"),
    "acknowledge": ("已知晓", "Acknowledge"),
    "sound": ("警报声音", "Alarm sound"),
    "sound_is_on": ("开", "on"),
    "sound_is_off": ("关", "off"),
    "sound_blocked": (
        "浏览器不让网页发声：点这里，警报才会响",
        "The browser keeps this page silent: tap here to hear alarms",
    ),
    "sound_at_sign_in": (
        "在这台设备上响起警报声（登录时允许一次）",
        "Sound alarms on this device (allowed once, at sign-in)",
    ),
    "menu": ("菜单", "Menu"),
    "nav_more": ("更多", "More"),
    "nav_short_control": ("门控", "Gate"),
    "nav_short_check": ("检查", "Check"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "sign_in_again": (
        "登录已结束，请重新登录；刚才填写的内容还在。",
        "Your session ended: sign in again. What you typed is kept.",
    ),
    "live_title": ("实时刷卡", "Scans as they happen"),
    "pending_title": ("等待确认的提前接走", "Early pickups waiting"),
    "pending_banner": ("{n} 个提前接走等待确认 →", "{n} early pickup(s) waiting →"),
    "no_pending": ("没有等待确认的提前接走", "No early pickup waiting"),
    "approve": ("同意接走", "Approve"),
    "refuse": ("拒绝", "Refuse"),
    "approved": ("已同意，门已打开", "Approved: door opened"),
    "refused_done": ("已拒绝", "Refused"),
    "no_scans": ("今天还没有刷卡", "No scans yet today"),
    "guardian_of": ("的家长", "guardian of"),
    "unknown_person": ("未知", "Unknown"),
    "card": ("卡", "card"),
    "waited": (
        "已等 {n} 分钟，还可确认 {left} 分钟",
        "waiting {n} min; {left} min left to approve",
    ),
    "control_title": ("手动门控", "Manual gate control"),
    "open_gate": ("开门", "Open the gate"),
    "open_reason": ("开门原因（必填）", "Reason (required)"),
    "reason_needed": ("请填写开门原因", "Give a reason for opening"),
    "do_lockdown": ("封闭", "Lockdown"),
    "do_evacuate": ("疏散（门保持打开）", "Evacuate (door held open)"),
    "do_normal": ("恢复正常", "Back to normal"),
    "help_open": (
        "开一次门，记录原因和操作人。",
        "Opens once; the reason and your name are recorded.",
    ),
    "help_lockdown": (
        "所有刷卡都被拒绝（教职工也是），只有门卫手动开门。",
        "Every card is refused, staff too; only a guard's open opens.",
    ),
    "help_evacuate": (
        "门一直打开，直到恢复正常。然后去疏散点名。",
        "The door is held open until normal; then take the roll call.",
    ),
    "help_normal": (
        "结束封闭或疏散，按规则放行。",
        "Ends a lockdown or evacuation; the rules decide again.",
    ),
    "confirm_title": ("请确认", "Please confirm"),
    "confirm": ("确认", "Confirm"),
    "cancel": ("取消", "Cancel"),
    "confirm_open": ("现在开门？原因：{reason}", "Open the gate now? Reason: {reason}"),
    "confirm_lockdown": (
        "封闭校门？所有人都不能刷卡进出。",
        "Lock the gate down? Nobody gets in by card.",
    ),
    "confirm_evacuate": (
        "开始疏散？门会一直保持打开。",
        "Start an evacuation? The door is held open.",
    ),
    "confirm_normal": ("恢复正常？", "Return to normal?"),
    "done_open": ("门锁已打开", "Gate opened"),
    "done_mode": ("状态已切换：{mode}", "Mode is now: {mode}"),
    "not_done": ("未执行：{why}", "Not done: {why}"),
    "visitors_title": ("在园访客", "Visitors on site"),
    "visitor_new": ("登记访客", "Register a visitor"),
    "v_name": ("姓名", "Name"),
    "v_id_number": ("身份证号", "ID number"),
    "v_phone": ("电话", "Phone"),
    "v_host": ("拜访对象", "Host"),
    "v_purpose": ("事由", "Purpose"),
    "v_minutes": ("预计停留（分钟）", "Expected stay (minutes)"),
    "v_arrived": ("入园", "In"),
    "v_due": ("应离园", "Due out"),
    "v_overstay": ("超时", "OVERSTAY"),
    "v_none": ("目前没有访客在园", "No visitors on site"),
    "v_register": ("登记并开门", "Register and open"),
    "v_badge": ("打印访客证", "Print badge"),
    "v_sign_out": ("离园", "Sign out"),
    "v_scan": ("扫描访客证离园", "Scan a badge to sign out"),
    "v_scan_hint": ("把光标放在这里，用扫码枪扫访客证", "Put the cursor here and scan the badge"),
    "v_in_done": ("访客已登记，门已打开", "Visitor registered; gate opened"),
    "v_out_done": ("{name} 已离园", "{name} signed out"),
    "v_blocked": (
        "此人在禁止名单上！不要放行。",
        "This person is on the blocked list! Do not let them in.",
    ),
    "v_bad_badge": ("访客证无效或已使用", "Badge not valid or already used"),
    "v_overstay_alert": ("{count} 位访客超时未离园", "{count} visitor(s) past their time"),
    "badge_title": ("访客证", "Visitor badge"),
    "badge_valid": ("仅限本次来访，当天有效", "Valid for this visit only, today"),
    "print": ("打印", "Print"),
    "back": ("返回", "Back"),
    "rollcall_title": ("疏散点名", "Evacuation roll call"),
    "rollcall_not_active": (
        "现在不是疏散状态。以下为最近一次疏散。",
        "No evacuation now. Showing the last one.",
    ),
    "rollcall_none": ("还没有疏散记录", "No evacuation yet"),
    "rc_children": ("在园幼儿（按班级）", "Children inside, by class"),
    "rc_staff": ("今日到岗教职工", "Staff on site today"),
    "rc_visitors": ("在园访客", "Visitors on site"),
    "rc_ticked": ("已到 {done}/{total}", "Present {done}/{total}"),
    "rc_tick": ("到", "Here"),
    "rc_untick": ("撤销", "Undo"),
    "check_title": ("每日设备检查", "Daily device check"),
    "check_intro": (
        "逐项测试，每项选择 正常 / 故障 / 没有此设备。",
        "Test each device; mark it pass, fail or not present.",
    ),
    "check_pass": ("正常", "Pass"),
    "check_fail": ("故障", "Fail"),
    "check_absent": ("没有此设备", "Not present"),
    "check_note": ("备注", "Note"),
    "check_save": ("提交检查结果", "Save the check"),
    "check_saved": ("检查结果已记录", "Check recorded"),
    "check_missing": ("每一项都要选择结果", "Choose a result for every step"),
    "check_fail_note": ("故障项需要写备注", "A failed step needs a note"),
    "check_seen_at": (
        "门禁在 {time} 看到（{ago} 分钟前）",
        "The gate saw it at {time} ({ago} min ago)",
    ),
    "check_test_relay": ("测试开锁（会开门）", "Test the lock (opens the gate)"),
    "check_last": ("最近一次检查", "Last check"),
    "step_relay": ("门锁继电器有咔嗒声", "Lock relay clicks"),
    "step_door": ("门磁：开门关门有记录", "Door contact: open and close are seen"),
    "step_exit_button": ("出门按钮", "Exit button"),
    "step_reader": ("读卡器 {name}", "Reader {name}"),
    "step_camera": ("摄像头画面", "Camera frame"),
    "step_fire_alarm": ("火警输入", "Fire-alarm input"),
    "repairs_title": ("报修记录", "Repair log"),
    "repair_new": ("报修", "Report a problem"),
    "r_device": ("设备", "Device"),
    "r_problem": ("问题描述", "What is wrong"),
    "r_photo": ("照片（可选，JPEG/PNG，最大 5 MB）", "Photo (optional, JPEG/PNG, up to 5 MB)"),
    "r_open": ("未修好", "Open"),
    "r_closed": ("已修好", "Fixed"),
    "r_fix": ("维修说明", "What was done"),
    "r_close": ("标记为已修好", "Mark fixed"),
    "r_opened_done": ("已报修", "Repair entry opened"),
    "r_closed_done": ("已标记为修好", "Repair entry closed"),
    "r_none": ("没有报修记录", "No repair entries"),
    "r_by": ("报修人", "Reported by"),
    "users_title": ("账号管理", "Accounts"),
    "u_add": ("添加或重设账号", "Add or reset an account"),
    "u_role": ("角色", "Role"),
    "u_guard": ("门卫", "guard"),
    "u_admin": ("管理员", "admin"),
    "u_disable": ("停用", "Disable"),
    "u_enable": ("启用", "Enable"),
    "u_disabled": ("已停用", "disabled"),
    "u_saved": ("账号已保存", "Account saved"),
    "required": ("必填", "required"),
    "field_required": ("请填写此项", "Please fill in this field"),
    "field_range": ("请填 {min} 到 {max} 之间的数", "Enter a number from {min} to {max}"),
    "field_format": ("格式不对，请检查", "This is not in the right form"),
    "too_long": ("太长（最多 {n} 个字）", "too long (at most {n} characters)"),
    "bad_id_number": ("身份证号格式不对", "not a valid ID number"),
    "bad_phone": ("电话号码格式不对", "not a valid phone number"),
    "bad_minutes": ("请填 {lo} 到 {hi} 之间的整数", "a whole number from {lo} to {hi}"),
    "bad_photo_type": ("照片只能是 JPEG 或 PNG", "the photo must be a JPEG or PNG"),
    "bad_photo_size": ("照片太大（最大 5 MB）", "the photo is too large (5 MB at most)"),
    "fix_errors": (
        "请改正标红的项目，什么都没有改变。",
        "Please fix the marked fields; nothing was changed.",
    ),
    "not_found": ("找不到", "Not found"),
    "language": ("English", "中文"),
    "time": ("时间", "Time"),
    "who": ("人员", "Who"),
    "decision": ("结果", "Decision"),
    "reason": ("原因", "Reason"),
    "by": ("操作人", "By"),
}

TABLES = {"reason": REASONS, "decision": DECISIONS, "kind": KINDS, "mode": MODES}


def pick(lang: str) -> str:
    return lang if lang in LANGUAGES else "zh"


class Words:
    """The words of one language, as templates and code use them."""

    def __init__(self, lang: str) -> None:
        self.lang = pick(lang)
        self._i = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        pair = WORDS.get(key)
        text = pair[self._i] if pair else key
        return text.format(**values) if values else text

    def of(self, table: str, code: str | None) -> str:
        """A reason, decision, person kind or mode in words; the code itself if unknown."""
        if not code:
            return ""
        pair = TABLES[table].get(code)
        return pair[self._i] if pair else code.replace("_", " ")
