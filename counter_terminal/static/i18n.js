// The counter's and the evaluator's words in Chinese and English; the choice is kept per device.
(function () {
  "use strict";
  const WORDS = {
    zh: {
      switch_title: "这个浏览器已在另一个窗口登录",
      switch_text: "{0} 在 {1}号窗口 登录着，地址要的是 {2}号窗口。",
      switch_stay: "继续在 {0}号窗口", switch_leave: "退出，到 {0}号窗口 登录",
      logout: "退出登录", offline: "与服务器断开，正在重连…按钮暂不可用",
      login_title: "上岗登录", staff_id: "工号", pin: "密码", window: "窗口",
      login: "登录并开窗", login_hint: "登录即上岗签到，窗口随之开启。",
      call_next: "叫号", recall: "重呼", start: "开始办理", finish: "办结", no_show: "过号",
      transfer: "转移", away: "暂时离开", back: "回到窗口", close: "关闭窗口", open: "开启窗口",
      waiting_title: "本窗口等候", today_title: "我的今天", served: "已办结",
      avg_handling: "平均办理（分钟）", last_title: "最近办理",
      transfer_title: "转移给（首问负责制）", to_service: "其他业务", to_window: "其他窗口",
      cancel: "取消", away_title: "暂时离开的原因",
      status_closed: "窗口已关闭", status_idle: "空闲", status_calling: "呼叫中",
      status_serving: "办理中", status_away: "暂时离开",
      prio_normal: "普通", prio_priority: "绿色通道", prio_vip: "VIP", prio_appointment: "预约",
      waited: "已等候", at_window: "窗口办理", min: "分钟", recalls: "重呼",
      transferred_here: "转给本窗口", longest: "最长等候", nobody: "暂无等候",
      out_done: "办结", out_no_show: "过号", out_transferred: "转出",
      limit_in: "距暂离上限", overdue_by: "已超时", back_by: "应回时间",
      away_limit_hint: "暂离不得超过 {0} 分钟，超时将提醒值班长。",
      no_windows_open: "没有其他开启的窗口", waiting_now: "本窗口等候 {0} 人",
      done_call: "已呼叫 {0}", done_recall: "已重呼 {0}", done_finish: "{0} 已办结",
      done_transfer: "{0} 已转移", done_no_show: "{0} 记为过号", done_away: "已暂离",
      done_back: "欢迎回来", done_close: "窗口已关闭", done_open: "窗口已开启",
      done_start: "开始办理 {0}",
      reasons: ["暂离", "午休", "会议", "其他"],
      callback: "回访登记", callback_title: "回访登记：系统故障未能办理时，留下联系方式另约时间",
      cb_phone: "电话", cb_name: "姓名（可不填）", cb_note: "事由", cb_save: "保存",
      cb_hint: "电话只给值班长回访用，列表中只显示部分号码。", done_callback: "已登记回访",
      cb_book_title: "或者直接预约另一时间，告诉客户预约码", cb_service: "业务", cb_date: "日期",
      cb_slot: "时段", cb_book: "预约", cb_free: "余 {0}", cb_full: "已满",
      cb_no_slots: "当天没有可预约的时段", cb_code: "预约码 {0}：{1} {2}，请告诉客户",
      done_booked: "已预约，预约码 {0}",
      // evaluator
      ev_paused: "暂停服务", ev_away: "暂时离开", ev_back_by: "预计 {0} 回来",
      ev_welcome: "欢迎光临", ev_please: "请 {0} 号到本窗口", ev_serving: "正在为 {0} 号办理",
      ev_staff_no: "工号", ev_rate_title: "请对本次服务进行评价", ev_thanks: "谢谢您的评价！",
      ev_reason_title: "请告诉我们不满意的原因", ev_skip: "不说明",
      ev_levels: ["非常不满意", "不满意", "基本满意", "满意", "非常满意"],
      ev_reasons: ["等候时间太长", "办理太慢", "服务态度不好", "问题没有解决", "其他"],
      ev_setup: "评价器设置", ev_code: "配对码", ev_save: "配对",
      ev_code_help: "请负责人在值班看板的设备列表中为本窗口的评价器生成配对码（5 分钟内有效）",
      ev_seconds: "{0} 秒",
    },
    en: {
      switch_title: "This browser is logged in at another window",
      switch_text: "{0} is logged in at window {1}; the address asks for window {2}.",
      switch_stay: "Stay at window {0}", switch_leave: "Log out, log in at window {0}",
      logout: "Log out", offline: "Disconnected from the server, reconnecting… buttons are off",
      login_title: "Start of shift", staff_id: "Staff ID", pin: "PIN", window: "Window",
      login: "Log in and open", login_hint: "Logging in records the start of your shift and opens the window.",
      call_next: "Call next", recall: "Recall", start: "Start", finish: "Finish",
      no_show: "No-show", transfer: "Transfer", away: "Away", back: "Back",
      close: "Close window", open: "Open window",
      waiting_title: "Waiting for this window", today_title: "My day", served: "served",
      avg_handling: "avg handling (min)", last_title: "Last tickets",
      transfer_title: "Transfer to (first-question duty)", to_service: "Another service",
      to_window: "Another window", cancel: "Cancel", away_title: "Reason for stepping away",
      status_closed: "Window closed", status_idle: "Idle", status_calling: "Calling",
      status_serving: "Serving", status_away: "Away",
      prio_normal: "Normal", prio_priority: "Green channel", prio_vip: "VIP",
      prio_appointment: "Appointment",
      waited: "waited", at_window: "at window", min: "min", recalls: "recalls",
      transferred_here: "Transferred here", longest: "Longest wait", nobody: "Nobody waiting",
      out_done: "done", out_no_show: "no-show", out_transferred: "transferred",
      limit_in: "Away limit in", overdue_by: "Overdue by", back_by: "Back by",
      away_limit_hint: "Away may not exceed {0} minutes; the supervisor is alerted after that.",
      no_windows_open: "No other window is open", waiting_now: "{0} waiting for this window",
      done_call: "Called {0}", done_recall: "Recalled {0}", done_finish: "{0} finished",
      done_transfer: "{0} transferred", done_no_show: "{0} marked no-show", done_away: "Away",
      done_back: "Welcome back", done_close: "Window closed", done_open: "Window open",
      done_start: "Serving {0}",
      reasons: ["Short break", "Lunch", "Meeting", "Other"],
      callback: "Callback", callback_title: "Callback: the system failed, book another time",
      cb_phone: "Phone", cb_name: "Name (optional)", cb_note: "Matter", cb_save: "Save",
      cb_hint: "The phone is for the supervisor's call back only; lists show it masked.",
      done_callback: "Callback recorded",
      cb_book_title: "Or book another time now, and tell the customer the code",
      cb_service: "Service", cb_date: "Date", cb_slot: "Slot", cb_book: "Book",
      cb_free: "{0} free", cb_full: "full", cb_no_slots: "No bookable slots that day",
      cb_code: "Code {0}: {1} {2}; tell the customer", done_booked: "Booked, code {0}",
      ev_paused: "Service paused", ev_away: "Temporarily away", ev_back_by: "Back by {0}",
      ev_welcome: "Welcome", ev_please: "Number {0}, please come to this window",
      ev_serving: "Now serving {0}", ev_staff_no: "Staff no.",
      ev_rate_title: "Please rate our service", ev_thanks: "Thank you for your rating!",
      ev_reason_title: "Please tell us what went wrong", ev_skip: "Skip",
      ev_levels: ["Very dissatisfied", "Dissatisfied", "Fair", "Satisfied", "Very satisfied"],
      ev_reasons: ["Waited too long", "Too slow", "Unfriendly", "Not resolved", "Other"],
      ev_setup: "Evaluator setup", ev_code: "Pairing code", ev_save: "Pair",
      ev_code_help: "A supervisor makes this window's code on the dashboard's device list " +
        "(valid for 5 minutes)",
      ev_seconds: "{0} s",
    },
  };

  function create(storageKey) {
    let lang = localStorage.getItem(storageKey) === "en" ? "en" : "zh";
    const i18n = {
      get lang() { return lang; },
      t(key, ...args) {
        const text = WORDS[lang][key];
        if (text === undefined) return key;
        return typeof text === "string" ? text.replace(/\{(\d)\}/g, (_, i) => args[+i]) : text;
      },
      apply(root) {
        (root || document).querySelectorAll("[data-i18n]").forEach(el => {
          el.textContent = i18n.t(el.dataset.i18n);
        });
        document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
      },
      // The server stores the reason in Chinese and sends its English name beside it.
      awayReason(away) {
        return (lang === "en" && away.reason_en) || away.reason;
      },
      toggle() {
        lang = lang === "zh" ? "en" : "zh";
        localStorage.setItem(storageKey, lang);
        i18n.apply();
      },
    };
    return i18n;
  }

  window.HallQI18n = {create: create, WORDS: WORDS};
})();
