"""Demo workspace for ``relaydesk-server seed demo``.

Pure data plus a small deterministic generator: a fictional retailer, "Acme Home Electronics"
(アクメ家電), with three teams, a handful of agents, one channel of every supported type and a
few hundred realistic conversations in English and Japanese.

The conversations are built from handwritten scenario scripts (see ``_EN_SCRIPTS`` and
``_JA_SCRIPTS``) combined with contacts, channels, statuses, priorities, assignees and
timestamps chosen by a seeded ``random.Random``, so every call returns exactly the same
workspace.

This module imports nothing from the project but the system messages' sentences
(``protocol.events``, which the desk translates); the seeding code maps these dataclasses onto the
database models.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from protocol import events

# --------------------------------------------------------------------------------------------
# Public data model (the seeding code relies on these exact shapes)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoTeam:
    key: str
    name: str


@dataclass(frozen=True)
class DemoAgent:
    email: str
    name: str
    role: str  # "agent" | "trainee" | "supervisor"
    teams: tuple[str, ...]  # team keys
    password: str


@dataclass(frozen=True)
class DemoChannel:
    key: str
    type: str  # email | web_chat | sms | whatsapp | messenger | instagram | line
    name: str
    team: str  # team key


@dataclass(frozen=True)
class DemoIdentity:
    channel_type: str
    handle: str
    opted_out: bool = False


@dataclass(frozen=True)
class DemoContact:
    key: str
    name: str
    locale: str  # "en" | "ja"
    identities: tuple[DemoIdentity, ...]
    attributes: dict[str, str]


@dataclass(frozen=True)
class DemoMessage:
    direction: str  # "inbound" | "outbound" | "note" | "system"
    body: str
    minutes_ago: int  # how long before "now" it was sent (>= 0)
    author: str | None = None  # agent email for outbound/note, None otherwise


@dataclass(frozen=True)
class DemoConversation:
    key: str
    channel: str  # channel key
    contact: str  # contact key
    subject: str | None  # email has a subject; chats have None
    status: str  # open | pending | snoozed | resolved
    snoozed_minutes: int | None  # for snoozed: snoozed until now + this many minutes
    priority: str  # low | normal | high | urgent
    assignee: str | None  # agent email or None (unassigned)
    tags: tuple[str, ...]
    messages: tuple[DemoMessage, ...]  # chronological (minutes_ago decreasing)


@dataclass(frozen=True)
class DemoCannedReply:
    shortcut: str
    title: str
    body: str
    team: str | None  # None = everyone
    locale: str | None = None  # the language it is written in; None = any


@dataclass(frozen=True)
class DemoTemplate:
    name: str
    channel_type: str
    locale: str
    body: str


@dataclass(frozen=True)
class DemoTag:
    name: str
    color: str  # "#rrggbb"


@dataclass(frozen=True)
class DemoWorkspace:
    teams: tuple[DemoTeam, ...]
    agents: tuple[DemoAgent, ...]
    channels: tuple[DemoChannel, ...]
    contacts: tuple[DemoContact, ...]
    conversations: tuple[DemoConversation, ...]
    canned_replies: tuple[DemoCannedReply, ...]
    templates: tuple[DemoTemplate, ...]
    tags: tuple[DemoTag, ...]


# --------------------------------------------------------------------------------------------
# Static data
# --------------------------------------------------------------------------------------------

SEED = 20240611
N_CONVERSATIONS = 240
# Exact status mix (55% / 15% / 8% / 22% of 240).
STATUS_COUNTS = {"open": 132, "pending": 36, "snoozed": 19, "resolved": 53}
DEMO_AGENT_EMAIL = "agent@demo.relaydesk.test"
# How many generated conversations the demo agent gets, by status (plus the SMS opt-out one):
# from Customer Support and Billing, and a few from 日本サポート, so that a newcomer on
# `make run` meets Japanese conversations without switching roles.
DEMO_AGENT_SHARE = {"open": 17, "pending": 4, "snoozed": 1, "resolved": 2}
DEMO_AGENT_JAPANESE_SHARE = {"open": 3, "pending": 1}
UNASSIGNED_SHARE = {"open": 64, "pending": 8}

TEAMS = (
    DemoTeam("support", "Customer Support"),
    DemoTeam("billing", "Billing"),
    DemoTeam("japan", "日本サポート"),
)

_AGENT_ROWS = (  # (local part, name, role, teams, password)
    ("agent", "Alex Morgan", "agent", ("support", "billing", "japan"), "demo-agent"),
    ("trainee", "Jamie Chen", "trainee", ("support",), "demo-trainee"),
    ("supervisor", "Dana Whitfield", "supervisor", ("support", "billing", "japan"),
     "demo-supervisor"),
    ("emily.carter", "Emily Carter", "agent", ("support",), "demo-emily"),
    ("marcus.reid", "Marcus Reid", "agent", ("billing", "support"), "demo-marcus"),
    ("kenji.sato", "Kenji Sato", "agent", ("japan",), "demo-kenji"),
    ("yuki.tanaka", "Yuki Tanaka", "agent", ("japan", "support"), "demo-yuki"),
    ("haruka.mori", "Haruka Mori", "agent", ("japan",), "demo-haruka"),
)
AGENTS = tuple(
    DemoAgent(f"{local}@demo.relaydesk.test", name, role, teams, password)
    for local, name, role, teams, password in _AGENT_ROWS
)

CHANNELS = (
    DemoChannel("email-support", "email", "Support Email", "support"),
    DemoChannel("web-chat", "web_chat", "Website Chat", "support"),
    DemoChannel("sms-us", "sms", "SMS +1 555-0100", "support"),
    DemoChannel("whatsapp-us", "whatsapp", "WhatsApp", "support"),
    DemoChannel("messenger", "messenger", "Facebook Messenger", "support"),
    DemoChannel("instagram", "instagram", "Instagram DMs", "support"),
    DemoChannel("email-billing", "email", "Billing Email", "billing"),
    DemoChannel("web-chat-billing", "web_chat", "Account Portal Chat", "billing"),
    DemoChannel("line-jp", "line", "LINE公式アカウント", "japan"),
    DemoChannel("email-jp", "email", "日本サポート メール", "japan"),
    DemoChannel("web-chat-jp", "web_chat", "Webチャット（日本）", "japan"),
)

TAGS = (
    DemoTag("billing", "#2563eb"),
    DemoTag("refund", "#7c3aed"),
    DemoTag("shipping", "#0891b2"),
    DemoTag("warranty", "#16a34a"),
    DemoTag("installation", "#4f46e5"),
    DemoTag("vip", "#d97706"),
    DemoTag("bug", "#dc2626"),
    DemoTag("feedback", "#db2777"),
    DemoTag("返品", "#ea580c"),
    DemoTag("至急", "#b91c1c"),
)

_CANNED_ROWS = (  # (shortcut, title, team or None for everyone, body)
    ("greet", "Greeting", None,
     "Hi {{contact.first_name}}, thanks for contacting Acme Home Electronics! "
     "My name is {{agent.first_name}} and I'll be helping you today."),
    ("thanks", "Thanks for waiting", None,
     "Thanks for your patience, {{contact.first_name}}. Is there anything else I can help with?"),
    ("closing", "Closing", None,
     "I'm glad we could sort this out, {{contact.first_name}}. If anything else comes up, just "
     "reply to this message.\n\nHave a great day!\n{{agent.name}}, Acme Home Electronics"),
    ("order-number", "Ask for order number", "support",
     "Could you share your order number, {{contact.first_name}}? It starts with \"AH-\" and "
     "you'll find it in your confirmation email."),
    ("shipping-delay", "Shipping delay apology", "support",
     "I'm sorry your order is taking longer than expected, {{contact.first_name}}. I've "
     "contacted the carrier and will update you as soon as I hear back."),
    ("warranty", "Warranty repair", "support",
     "Good news, {{contact.first_name}}: your product is still under warranty, so the repair "
     "is free of charge. You'll receive a prepaid shipping label by email within the hour."),
    ("password-reset", "Password reset steps", "support",
     "To reset your password, open the sign-in page, choose \"Forgot password\" and follow the "
     "link we email you. The link is valid for 30 minutes."),
    ("install", "Installation booking", "support",
     "I'd be happy to book an installation for you, {{contact.first_name}}. Which day and time "
     "window (8–12, 12–4 or 4–8) suits you best?"),
    ("return-label", "Return label sent", "support",
     "I've emailed you a prepaid return label, {{contact.first_name}}. Once the carrier scans "
     "the parcel, your refund is processed within 5 business days."),
    ("refund", "Refund issued", "billing",
     "Hi {{contact.first_name}}, I've issued your refund today. Depending on your bank it "
     "appears on your statement within 3–5 business days.\n\n{{agent.name}}"),
    ("invoice", "Invoice copy", "billing",
     "Hi {{contact.first_name}}, your invoice is attached and also available under \"Orders\" "
     "in your Acme account."),
    ("double-charge", "Duplicate charge voided", "billing",
     "I'm sorry about the duplicate charge, {{contact.name}}. I've voided the second payment; "
     "it will drop off your card within 1–2 business days."),
    ("jp-greet", "挨拶", "japan",
     "{{contact.name}}様\nお問い合わせいただきありがとうございます。"
     "アクメ家電サポート担当の{{agent.name}}でございます。"),
    ("jp-wait", "確認中", "japan",
     "{{contact.name}}様、ただいま確認いたしますので、少々お待ちくださいませ。"),
    ("jp-thanks", "お礼", "japan",
     "{{contact.name}}様、ご確認いただきありがとうございます。"
     "ほかにご不明な点はございますでしょうか。"),
    ("jp-refund", "返金のご案内", "japan",
     "{{contact.name}}様\n本日、返金手続きが完了いたしました。"
     "カード会社により異なりますが、通常3〜5営業日でご利用明細に反映されます。"),
    ("jp-shipping", "配送遅延のお詫び", "japan",
     "{{contact.name}}様\nお届けが遅れており、誠に申し訳ございません。"
     "配送業者に確認のうえ、あらためてご連絡いたします。"),
    ("jp-closing", "結び", "japan",
     "このたびはお問い合わせいただき、誠にありがとうございました。"
     "今後ともアクメ家電をよろしくお願いいたします。\n{{agent.name}}"),
)
CANNED_REPLIES = tuple(
    DemoCannedReply(shortcut, title, body, team, "ja" if team == "japan" else "en")
    for shortcut, title, team, body in _CANNED_ROWS
)

# WhatsApp message templates: (name, locale, body). Their parameters are named (WhatsApp's
# named parameter format), so the desk can label each value it asks for.
_TEMPLATE_ROWS = (
    ("order_update", "en",
     "Hi {{customer_name}}, there's an update on your Acme Home Electronics order "
     "{{order_number}}: {{order_status}}. Reply to this message if you have any questions."),
    ("follow_up", "en",
     "Hi {{customer_name}}, we're following up on your recent request to Acme Home "
     "Electronics. Reply to this message to continue the conversation with our team."),
    ("delivery_reminder", "en",
     "Hi {{customer_name}}, your delivery for order {{order_number}} is scheduled for "
     "{{delivery_time}}. Reply to this message if you need to change the time."),
    ("order_update", "ja",
     "{{customer_name}}様\nアクメ家電をご利用いただきありがとうございます。"
     "ご注文 {{order_number}} の状況が更新されました：{{order_status}}\n"
     "ご不明な点はこのメッセージにご返信ください。"),
    ("follow_up", "ja",
     "{{customer_name}}様\n先日のお問い合わせについてご連絡いたしました。"
     "引き続きサポートが必要な場合は、このメッセージにご返信ください。"),
    ("delivery_reminder", "ja",
     "{{customer_name}}様\nご注文 {{order_number}} のお届けは {{delivery_time}} を予定して"
     "おります。日時の変更をご希望の場合は、このメッセージにご返信ください。"),
)
TEMPLATES = tuple(
    DemoTemplate(name, "whatsapp", locale, body) for name, locale, body in _TEMPLATE_ROWS
)

_EN_FIRST = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Lucas",
    "Mia", "James", "Charlotte", "Benjamin", "Amelia", "Henry", "Harper", "Daniel", "Evelyn",
    "Michael", "Abigail", "Samuel", "Grace", "David", "Chloe", "Nathan", "Zoe", "Ryan", "Hannah",
    "Carlos", "Maria", "Aisha", "Omar", "Priya", "Raj", "Fatima", "Diego", "Elena", "Tom", "Sarah",
)
_EN_LAST = (
    "Bennett", "Brooks", "Coleman", "Diaz", "Ellis", "Foster", "Garcia", "Hughes", "Jenkins",
    "Kim", "Lopez", "Murphy", "Nguyen", "Owens", "Patel", "Reed", "Russell", "Sanders", "Shaw",
    "Turner", "Walsh", "Ward", "Young", "Fischer", "Okafor", "Rossi", "Hassan", "Novak",
    "Lindqvist", "O'Brien",
)
_JA_FAMILY = (
    ("佐々木", "sasaki"), ("高橋", "takahashi"), ("鈴木", "suzuki"), ("伊藤", "ito"),
    ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"),
    ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"), ("山口", "yamaguchi"),
    ("松本", "matsumoto"), ("井上", "inoue"), ("木村", "kimura"), ("林", "hayashi"),
    ("斎藤", "saito"), ("清水", "shimizu"), ("山崎", "yamazaki"), ("森田", "morita"),
    ("池田", "ikeda"), ("橋本", "hashimoto"), ("阿部", "abe"), ("石川", "ishikawa"),
    ("前田", "maeda"), ("藤田", "fujita"), ("岡田", "okada"), ("長谷川", "hasegawa"),
)
_JA_GIVEN = (
    ("花子", "hanako"), ("太郎", "taro"), ("美咲", "misaki"), ("翔太", "shota"), ("結衣", "yui"),
    ("大輔", "daisuke"), ("陽子", "yoko"), ("拓也", "takuya"), ("彩", "aya"), ("健一", "kenichi"),
    ("真由美", "mayumi"), ("直樹", "naoki"), ("恵", "megumi"), ("亮", "ryo"), ("由美子", "yumiko"),
    ("誠", "makoto"), ("さくら", "sakura"), ("浩二", "koji"), ("奈々", "nana"), ("和也", "kazuya"),
    ("千尋", "chihiro"), ("隆", "takashi"), ("麻衣", "mai"), ("悠斗", "yuto"), ("理恵", "rie"),
)
_EN_CITIES = (
    "Portland, OR", "Austin, TX", "Denver, CO", "Columbus, OH", "Seattle, WA", "Raleigh, NC",
    "Phoenix, AZ", "Boston, MA", "Chicago, IL", "San Diego, CA", "Minneapolis, MN", "Atlanta, GA",
)
_JA_CITIES = (
    "東京都世田谷区", "大阪府大阪市", "神奈川県横浜市", "愛知県名古屋市", "福岡県福岡市",
    "北海道札幌市", "京都府京都市", "兵庫県神戸市", "宮城県仙台市", "埼玉県さいたま市",
    "広島県広島市", "千葉県千葉市",
)
_TIERS = (("Standard", 70), ("Acme Care+", 22), ("VIP", 8))

N_EN_CONTACTS = 50
N_JA_CONTACTS = 46
_EN_MULTI = (
    ("email", "whatsapp"), ("email", "sms"), ("web_chat", "email"), ("messenger", "email"),
    ("instagram", "whatsapp"), ("email", "sms", "whatsapp"), ("messenger", "instagram"),
    ("whatsapp", "email"), ("sms", "web_chat"), ("email", "instagram", "messenger"),
)
_JA_MULTI = (
    ("line", "email"), ("line", "web_chat"), ("email", "line"), ("line", "email", "web_chat"),
    ("web_chat", "email"), ("line", "email"), ("email", "web_chat", "line"), ("line", "web_chat"),
)
_EN_SINGLE = (("email", 35), ("web_chat", 20), ("whatsapp", 16), ("sms", 12), ("messenger", 9),
              ("instagram", 8))
_JA_SINGLE = (("line", 50), ("email", 30), ("web_chat", 20))

# --------------------------------------------------------------------------------------------
# Scenario scripts
#
# "== key | team | hint | tags | subject" starts a scenario (hint: "urgent" or "-").
# Each message line starts with c (customer, inbound), a (agent, outbound) or n (internal
# note); indented lines continue the previous message.  Placeholders: {cust} (first name in
# English, family name in Japanese), {agent} (replying agent's first name), {order}, {track},
# {case}.  A conversation uses a prefix of its script, depending on its status.
# --------------------------------------------------------------------------------------------

_EN_SCRIPTS = """
== order_late | support | - | shipping | Where is my order {order}?
c Hi, I ordered a 55" QLED TV (order {order}) nine days ago and the tracking page hasn't
  updated since Monday. Can you tell me where it is?
a Hi {cust}, thanks for reaching out, and sorry for the wait. I'm checking with the carrier
  now, one moment please.
n Carrier shows the parcel held at the regional depot after a scan error. @Marcus can we
  request a re-dispatch?
a Thanks for your patience, {cust}. The parcel was held at the regional depot after a
  scanning error. I've asked the carrier to re-dispatch it and you should receive it within
  2 business days. New tracking number: {track}.
c OK, that's a relief. Will I need to be home to sign for it?
a Yes, a signature is required for TVs. If nobody is home, the driver leaves a card and you
  can pick a new slot online.
c Perfect, thank you {agent}!
a You're welcome! I'll keep an eye on it until the delivery is confirmed.
c It just arrived and everything looks fine. Thanks again!
a Great to hear, {cust}! Enjoy the new TV. Just reply here if you need anything else.
== damaged_tv | support | - | shipping,refund | TV arrived with a cracked screen
c My new TV arrived this morning and the screen is cracked in the bottom-left corner. The box
  looked fine from the outside. What do I do now?
a I'm really sorry to hear that, {cust}. Could you send a photo of the screen and one of the
  box label? That lets us start a replacement right away.
c Sure, photos attached. The label is a bit smudged but the order number is {order}.
n Photos confirm transit damage. Eligible for free replacement, no need to route to warranty.
a Thank you, the photos are clear. I've arranged a free replacement: the courier will bring
  the new TV and collect the damaged one at the same time. You'll get an email to choose a
  delivery slot.
c Great. Do I need to repack the broken one?
a No need, the courier brings packaging. Please just keep the stand and remote together so
  they can be collected as well.
c Thanks, appreciate the quick help.
c The new one arrived this afternoon and works perfectly.
a Wonderful, thanks for letting us know, {cust}. Enjoy your new TV!
== refund_status | billing | - | refund,billing | Refund for returned headphones
c Hello, I returned a pair of wireless headphones two weeks ago and still haven't seen the
  refund. Order {order}.
a Hi {cust}, thanks for your message. I can see the return reached our warehouse last week.
  Let me check the refund status for you.
n Refund stuck in "pending approval". @Marcus could you approve it? Amount $149.99.
a Good news: the refund of $149.99 has now been approved. It usually appears on your
  statement within 3–5 business days, depending on your bank.
c Thanks. Will it go back to the same card?
a Yes, it goes back to the card used for the purchase, ending in 4417.
c Great, thanks for sorting it out.
== double_charge | billing | urgent | billing | Charged twice for order {order}
c I was charged twice for the same order ({order}), $899.00 two times on my credit card.
  Please fix this ASAP, it's putting me over my limit.
a Hi {cust}, I'm sorry about this, I understand how stressful that is. I'm looking into the
  payment records right now.
n Two captures from the payment gateway 40 seconds apart. Second one needs a void.
a I found the duplicate charge: the second payment was captured by mistake. I've voided it,
  so it should drop off your card within 1–2 business days (some banks show it as a refund).
c Thank you. Can you send me something in writing that I can show my bank?
a Of course. I've just emailed you a confirmation letter with both transaction IDs and the
  void reference.
c Got it. Thanks for acting fast.
== invoice_copy | billing | - | billing | Invoice with company details
c Hi, could you send me an invoice for order {order} with our company name and tax ID on it?
  It's for our office expenses.
a Hi {cust}, happy to help. Please reply with the company name, billing address and tax ID
  exactly as they should appear.
c Brightwater Design LLC, 410 Harbor Street, Suite 5, Portland OR 97204. Tax ID 88-1234567.
a Thank you. The updated invoice is attached and also available under "Orders" in your
  account.
c Perfect, that's exactly what I needed.
== warranty_soundbar | support | - | warranty | Soundbar stopped working
c My Acme SB-400 soundbar suddenly stopped producing sound. The light is on but there's no
  audio from any input. I bought it 8 months ago.
a Sorry to hear that, {cust}. Let's try a quick reset first: unplug the soundbar for 60
  seconds, then hold Input and Volume- together for 10 seconds while plugging it back in.
c Tried it, still nothing.
a Thanks for trying. Since it's within the 2-year warranty, I've opened repair case {case}.
  You'll receive a prepaid shipping label by email within the hour.
c How long does the repair usually take?
a Typically 5–7 business days from when the unit arrives at our service center. We'll email
  you at each step.
c Alright, thanks.
== password_reset | support | - | - | Can't sign in to my account
c I can't log into my Acme account. The password reset email never arrives.
a Hi {cust}, let me help. Could you confirm the email address you use to sign in?
c It's the one I'm writing from.
a Thanks. Several reset emails were blocked by your mail provider, so I've sent a new link
  from a different server. Please check your inbox and spam folder in the next few minutes.
c Got it this time, I'm back in. Thanks!
a Great! For extra security you can turn on two-step verification under Account > Security.
== address_change | support | - | shipping | Change delivery address
c Hi! I just placed order {order} but used my old address by mistake. Can you change it to
  82 Maple Avenue, Apt 3B, Springfield?
a Hi {cust}, thanks for letting us know so quickly. The order hasn't shipped yet, so I can
  update it. Could you also confirm the ZIP code?
c It's 62704.
a Done: the delivery address for {order} is now 82 Maple Avenue, Apt 3B, Springfield, IL
  62704. You'll get an updated confirmation email shortly.
c Thank you so much!
== install_booking | support | - | installation | Wall-mount installation
c I'd like to book wall-mount installation for the 65" TV I bought last week. What dates do
  you have?
a Hi {cust}, glad to arrange that. Our technicians in your area have openings on Thursday
  morning and Saturday afternoon. Which suits you better?
c Saturday afternoon please. Do I need to buy the bracket separately?
a The installation package includes a standard tilting bracket. A full-motion bracket is an
  extra $79.
c Standard is fine.
a You're booked for Saturday between 1 and 4 pm. The technician will call 30 minutes before
  arriving. Please make sure there's clear access to the wall and a power outlet nearby.
c Sounds good, thanks {agent}.
== return_label | support | - | refund | Return label for espresso machine
c Hi, I'd like to return the espresso machine from order {order}. It's unopened. How do I get
  a return label?
a Hi {cust}, no problem, unopened items can be returned within 30 days. I've just emailed you
  a prepaid return label.
c I don't see it anywhere, not even in spam.
n Label email bounced: the address on the account was missing a letter. Fixed it.
a Sorry about that, there was a typo in the email address on your account. I've corrected it
  and resent the label. Could you check again?
c Got it now, thanks.
a Great. Once the carrier scans the parcel, your refund is processed within 5 business days.
== app_bug | support | - | bug | App crashes when pairing speaker
c The Acme Home app crashes every time I try to pair my new smart speaker. I'm on Android 14.
a Thanks for reporting this, {cust}. Which version of the app do you have? You can find it
  under Settings > About.
c Version 5.2.1
n Known issue with 5.2.1 on Android 14 (BUG-2291), fix ships in 5.2.2. @Emily please add
  this one to the bug report.
a Thanks. This is a known issue in 5.2.1 and a fix is coming in the next update. Meanwhile
  you can pair the speaker by holding its Action button for 5 seconds and choosing "Set up
  manually" in the app.
c The manual setup worked. Thanks!
a Glad to hear it! I'll let you know once the update is available.
== firmware_tv | support | - | bug | TV keeps restarting after update
c After last night's software update my TV keeps restarting every few minutes. It's unusable.
a Sorry about that, {cust}. Could you tell me the model number? It's on the sticker on the
  back of the TV.
c QN-55Q7
a Thank you. Please unplug the TV, hold the power button on the TV itself (not the remote)
  for 30 seconds, then plug it back in. This clears the cache after an update.
c It's been on for 20 minutes now without restarting.
a Excellent. If it starts again, reply here and I'll arrange a technician visit.
== price_match | billing | - | billing | Price drop after purchase
c I bought a robot vacuum from you on Saturday for $449 and now it's $379 on your own
  website. Can I get the difference back?
a Hi {cust}, thanks for pointing that out. Our price guarantee covers drops within 14 days of
  purchase, so you're eligible.
a I've issued a refund of $70.00 to your original payment method. You'll see it within 3–5
  business days.
c That was easy. Thank you!
== missing_remote | support | - | shipping | Remote missing from the box
c I just unboxed my new TV and there's no remote in the box.
a Hi {cust}, sorry about that! Could you confirm the order number so I can send a
  replacement?
c {order}
a Thanks. I've shipped a replacement remote by express delivery at no charge. Tracking:
  {track}.
c Thanks. In the meantime can I control the TV with my phone?
a Yes, the Acme Home app has a remote function. Open the app, select your TV and tap
  "Remote".
== cancel_order | billing | - | - | Cancel my order {order}
c Please cancel order {order}. I found the same model in a store nearby.
a Hi {cust}, I can help with that. Let me check whether the order has left the warehouse.
a Good news, it hadn't shipped yet, so I've cancelled it. The authorization hold on your card
  will be released within 2–3 business days.
c Thanks, appreciate it.
== feedback_installer | support | - | feedback | Great service from your technician
c Just wanted to say the technician who installed our dishwasher yesterday was fantastic: on
  time, tidy, and explained everything.
a Thank you so much for taking the time to tell us, {cust}! I'll pass your kind words on to
  the technician and their team lead.
n Forwarded to the field services manager for the monthly recognition. @Dana FYI
c You're welcome, have a great day.
== restock | support | - | - | When is the 75" QLED back in stock?
c Hi, when will the 75" QLED be back in stock? The website just says "coming soon".
a Hi {cust}, we expect the next shipment in about two weeks. I can add you to the restock
  list so you get an email as soon as it's available.
c Yes please.
a Done! You'll be notified at the email address on your account.
== care_renewal | billing | - | billing,warranty | Acme Care+ renewal charge
c I was charged $59.99 for "Acme Care+ renewal" but I never asked to renew. What is this?
a Hi {cust}, Acme Care+ renews automatically each year unless it's cancelled. I can see we
  didn't send you the reminder email 30 days before renewal, which is our mistake.
c I don't want it. Can you refund it?
a Of course. I've cancelled the auto-renewal and refunded the $59.99. Your current coverage
  stays active until the end of this month.
c OK, thanks.
== delivery_reschedule | support | - | shipping | Reschedule fridge delivery
c My fridge delivery is scheduled for tomorrow but I won't be home. Can we move it?
a Hi {cust}, sure. I have slots on Friday 8–12 or Monday 12–4. Which works for you?
c Monday please.
a All set, delivery moved to Monday between 12 and 4 pm. The crew will call when they're 30
  minutes away.
== promo_code | billing | - | billing | Promo code not applied
c I tried to use code SPRING15 at checkout but the discount wasn't applied. Order {order}.
a Hi {cust}, let me take a look. SPRING15 applies to orders over $200, excluding items that
  are already on sale.
c My order was $240 and nothing was on sale as far as I know.
n Cart had the bundle SKU, which is excluded from promos, and checkout didn't say so.
  @Marcus OK to approve a goodwill credit?
a You're right, the bundle in your cart was excluded and our checkout didn't make that
  clear. As a goodwill gesture I've refunded 15% ($36.00).
c That's very fair, thank you.
== fridge_not_cooling | support | urgent | warranty | Refrigerator stopped cooling
c Our refrigerator stopped cooling overnight. Everything in the freezer is thawing and it's
  only a year old!
a I'm very sorry, {cust}, let's get this sorted quickly. Is the display on, and can you hear
  the compressor running?
c Display is on, but it's completely silent.
n Likely compressor relay, within warranty. Flagging for priority technician dispatch.
a Thank you. This sounds like a compressor fault, which is covered by your warranty. I've
  booked a priority technician visit for tomorrow between 8 and 12, case {case}.
c Tomorrow? All our food will be ruined.
a I completely understand. I've added a food-spoilage claim to your case: keep the receipts
  for replacement groceries and we'll reimburse up to $200.
c OK, that helps. Thank you.
c The technician replaced a relay and it's cooling again. Receipts attached, total $146.
n Food-spoilage reimbursement of $146.00 approved under case {case}. @Marcus please process.
a Great news, {cust}. Your reimbursement of $146.00 is approved and will reach your card
  within 3–5 business days. Sorry again for the trouble.
c Thanks for taking care of everything.
== washer_leak | support | urgent | warranty | Washing machine leaking
c Water is leaking from under my washing machine during the spin cycle!
a Hi {cust}, please stop the machine and turn off the water tap behind it first. Is the leak
  coming from the front or the back?
c Front, near the door.
a That's usually the door seal. Could you check whether anything is caught in the rubber
  seal, like a sock or a coin?
c Found a hair clip stuck in it. Removed it, running a test cycle now.
c No leak this time!
a Great news. If it happens again, reply here and I'll book a technician under your
  warranty.
== card_declined | billing | - | billing | Payment declined at checkout
c My card keeps getting declined when I try to check out, but it works everywhere else.
a Hi {cust}, sorry for the trouble. Is the billing address on the card exactly the same as
  the one entered at checkout?
c Ah, I moved recently. The bank still has my old address.
a That's probably it: the bank rejects payments when the addresses don't match. Enter the
  old address as billing address and your new one as delivery address.
c That worked. Thanks!
== haul_away | support | - | - | Taking away my old TV
c Do you take away old TVs when the new one is delivered?
a Hi {cust}, yes. We can take your old TV at delivery for $25, and it's free with Acme Care+.
c I do have Care+. How do I add it?
a I've added the haul-away to order {order}. Please unplug the old TV and have it near the
  entrance on delivery day.
c Will do, thanks.
"""

_JA_SCRIPTS = """
== jp_order_late | japan | - | shipping | ご注文の商品がまだ届きません
c 先週注文した電子レンジ（注文番号 {order}）がまだ届きません。
  配送状況を確認していただけますか。
a {cust}様、お問い合わせいただきありがとうございます。アクメ家電サポートでございます。
  お届けが遅れており申し訳ございません。ただいま配送状況をお調べいたします。
n @Kenji 配送業者の追跡が3日前から止まっています。倉庫側に確認をお願いできますか？
a お待たせいたしました。配送センターでの仕分けに遅れが生じておりましたが、本日出荷されました。
  明日の午前中にお届け予定です。伝票番号は {track} です。
c わかりました。確認ありがとうございます。
a ご不便をおかけし、誠に申し訳ございませんでした。
  ほかにご不明な点がございましたら、お気軽にお問い合わせください。
== jp_tv_no_picture | japan | - | 返品 | テレビの画面が映りません
c 昨日届いたテレビの電源を入れても、画面が真っ暗なままです。音声は出ています。
a {cust}様、ご不便をおかけして申し訳ございません。恐れ入りますが、
  リモコンの「入力切替」ボタンで、HDMI1以外の入力にも切り替えてお試しいただけますでしょうか。
c 試しましたが、どの入力でも映りません。
a ご確認いただきありがとうございます。初期不良の可能性が高いため、新しい商品と交換いたします。
  お届けの際に配送員が不良品を回収いたしますので、梱包はそのままで問題ございません。
c 交換品はいつ届きますか。
a 最短で明後日のお届けとなります。ご希望の日時がございましたらお知らせください。
c 明後日の午前中でお願いします。
a 承知いたしました。明後日午前中のお届けで手配いたしました。
  このたびはご迷惑をおかけし、誠に申し訳ございません。
c 交換品が届きました。今度はきちんと映っています。
a ご連絡ありがとうございます。無事にご覧いただけるようになり、安心いたしました。
  今後ともアクメ家電をよろしくお願いいたします。
== jp_refund_status | japan | - | refund | 返金について
c 2週間前に返品したイヤホンの返金がまだ確認できません。注文番号は {order} です。
a {cust}様、お問い合わせありがとうございます。確認いたしますので、少々お待ちください。
a お待たせいたしました。商品は倉庫に到着しており、本日返金手続きが完了いたしました。
  カード会社により異なりますが、通常3〜5営業日で反映されます。
c ありがとうございます。安心しました。
== jp_receipt | japan | - | billing | 領収書の発行をお願いします
c 会社の経費で購入したので、宛名入りの領収書を発行していただけますか。注文番号は {order} です。
a {cust}様、ご連絡ありがとうございます。領収書の宛名と但し書きをお知らせいただけますでしょうか。
c 宛名は「株式会社サクラデザイン」、但し書きは「事務用品代として」でお願いします。
a 承知いたしました。領収書をPDFでメールにお送りいたしました。
  マイページの「注文履歴」からもダウンロードいただけます。
c 受け取りました。ありがとうございます。
== jp_aircon_warranty | japan | - | warranty | エアコンの保証修理について
c 昨年購入したエアコンから冷たい風が出なくなりました。保証期間内だと思うのですが、
  修理をお願いできますか。
a {cust}様、ご不便をおかけして申し訳ございません。
  お手数ですが、本体の運転ランプが点滅しているかご確認いただけますでしょうか。
c オレンジのランプが3回ずつ点滅しています。
n 3回点滅は室外機の異常。保証期間内のため出張修理を手配。@Haruka 訪問枠の確認をお願いします。
a ありがとうございます。室外機の不具合と思われます。保証期間内のため、無償で出張修理を承ります。
  修理受付番号は {case} です。担当技術員より訪問日時のご連絡を差し上げます。
c よろしくお願いします。
== jp_password | japan | - | - | マイページにログインできません
c マイページにログインできなくなりました。パスワードを忘れてしまったようです。
a {cust}様、お問い合わせありがとうございます。
  ログイン画面の「パスワードをお忘れの方」から、再設定用のメールをお送りできます。
c 再設定のメールが届きません。
a ご不便をおかけして申し訳ございません。別のサーバーから再送いたしましたので、
  迷惑メールフォルダもあわせてご確認いただけますでしょうか。
c 届きました！ログインできました。
a ログインできたとのこと、安心いたしました。ほかにもお困りのことがございましたら、
  いつでもご連絡ください。
== jp_address_change | japan | - | shipping | お届け先の変更
c 注文番号 {order} のお届け先を実家の住所に変更したいです。まだ間に合いますか。
a {cust}様、ご連絡ありがとうございます。出荷前のため変更可能でございます。
  新しいお届け先のご住所をお知らせください。
c 〒530-0001 大阪府大阪市北区梅田1-2-3 です。電話番号は変わりません。
a 承知いたしました。お届け先を変更いたしました。確認メールをお送りしましたので、ご確認ください。
c ありがとうございました。
== jp_washer_install | japan | - | installation | 洗濯機の設置工事の予約
c ドラム式洗濯機を購入しました。設置をお願いしたいのですが、いつ頃来ていただけますか。
a {cust}様、ご購入ありがとうございます。今週ですと、土曜日の午前または日曜日の午後に
  お伺いできます。ご都合はいかがでしょうか。
c 土曜日の午前でお願いします。古い洗濯機の引き取りもお願いできますか。
a はい、リサイクル料金（2,530円）と収集運搬料金（1,650円）で引き取りが可能です。
  あわせて手配してよろしいでしょうか。
c はい、お願いします。
a かしこまりました。土曜日9時〜12時に設置と引き取りでご予約いたしました。
  当日は防水パンと蛇口周りのスペースを空けておいていただけますと幸いです。
n 設置チームに防水パンのサイズ（64cm）と引き取りありを共有済み。
c わかりました。当日の作業時間はどのくらいですか。
a 設置と引き取りをあわせて、1時間半ほどを予定しております。
  作業後に試運転も行いますので、ご安心ください。
c 承知しました。よろしくお願いします。
== jp_wrong_color | japan | - | 返品 | 注文と違う商品が届きました
c 届いた炊飯器の色が注文したものと違いました。返品・交換はできますか。
a {cust}様、ご迷惑をおかけして大変申し訳ございません。
  お手数ですが、届いた商品の写真をお送りいただけますでしょうか。
c 写真を送りました。注文したのは白ですが、黒が届いています。
n 出荷時のピッキングミス。交換で対応、返送料は当社負担。
a ご確認いただきありがとうございます。当社の出荷ミスでございました。
  白の商品を本日発送し、黒の商品はお届けの際に配送員が回収いたします。送料は当社で負担いたします。
c 了解です。対応ありがとうございます。
== jp_app_bug | japan | - | bug | アプリからエアコンを操作できません
c アクメホームアプリを最新版にしてから、外出先からエアコンを操作できなくなりました。
a {cust}様、ご不便をおかけして申し訳ございません。
  お使いのスマートフォンの機種とOSのバージョンを教えていただけますでしょうか。
c iPhone 15、iOS 17.5です。
n @Kenji iOS版5.2.1の既知の不具合（BUG-2304）と同じ症状です。修正版の配信予定を確認できますか？
a ありがとうございます。現在のバージョンで同様の不具合を確認しており、来週配信予定の
  アップデートで修正される見込みです。それまでの間は、アプリから一度ログアウトし、
  再度ログインしていただくと改善する場合がございます。
c ログインし直したら操作できるようになりました。
a 改善したとのこと、何よりでございます。アップデートの配信時にあらためてご案内いたします。
== jp_double_charge | japan | urgent | billing,至急 | 二重に請求されています
c クレジットカードの明細を見たら、同じ注文（{order}）で2回請求されています。至急確認してください。
a {cust}様、ご心配をおかけして大変申し訳ございません。ただちに決済記録を確認いたします。
n 決済代行会社で同一取引が2回計上。2件目は取消処理済み。
a 確認いたしましたところ、システムの不具合により二重に決済されておりました。
  2件目のご請求は本日取り消しいたしました。明細への反映まで数日かかる場合がございます。
c わかりました。取り消されたことがわかる書類はありますか。
a 取消の証明書をメールでお送りいたしました。カード会社へのお問い合わせの際にご利用ください。
c 確認しました。ありがとうございます。
== jp_installments | japan | - | billing | 分割払いについて
c 冷蔵庫を分割払いで購入したいのですが、何回払いまでできますか。
a {cust}様、お問い合わせありがとうございます。クレジットカードでのお支払いの場合、
  3回・6回・12回・24回の分割払いをご利用いただけます。分割手数料はカード会社により異なります。
c 12回払いで手数料無料のキャンペーンはありますか。
a ただいま、対象の冷蔵庫に限り12回払いまで分割手数料無料のキャンペーンを実施しております。
  商品ページに「分割無料」のマークがある商品が対象です。
c ありがとうございます。検討してみます。
== jp_missing_cable | japan | - | shipping | 付属品が入っていません
c ワイヤレススピーカーを購入しましたが、充電ケーブルが入っていませんでした。
a {cust}様、ご迷惑をおかけして申し訳ございません。すぐに充電ケーブルをお送りいたします。
  念のため、ご注文番号をお知らせいただけますでしょうか。
c {order} です。
a ありがとうございます。本日、充電ケーブルを発送いたしました。明日から明後日にお届けの予定です。
c 早い対応ありがとうございます。
== jp_cancel | japan | - | - | 注文のキャンセル
c 注文番号 {order} をキャンセルしたいです。
a {cust}様、ご連絡ありがとうございます。確認いたしますので、少々お待ちください。
a お待たせいたしました。出荷前でしたので、ご注文をキャンセルいたしました。
  お支払いいただいた代金は、カード会社を通じて返金されます。
c ありがとうございます。助かりました。
== jp_thanks | japan | - | feedback | 先日のお礼
c 先日、スマートスピーカーの設定方法を丁寧に教えていただき、ありがとうございました。
  おかげで毎日便利に使っています。
a {cust}様、温かいお言葉をいただき、誠にありがとうございます。担当者にも必ず申し伝えます。
  今後ともアクメ家電をよろしくお願いいたします。
== jp_restock | japan | - | - | 在庫について
c ホームページで品切れになっている4Kチューナーは、いつ頃入荷しますか。
a {cust}様、お問い合わせありがとうございます。次回の入荷は今月下旬を予定しております。
  入荷お知らせメールの登録をご希望でしたら、こちらで手配いたします。
c お願いします。
a 入荷お知らせメールに登録いたしました。入荷次第、ご登録のメールアドレスへご案内いたします。
== jp_extended_warranty | japan | - | warranty | 延長保証への加入について
c テレビを購入して半年になりますが、今から延長保証に加入することはできますか。
a {cust}様、お問い合わせありがとうございます。延長保証は、ご購入日から1年以内であれば
  追加でご加入いただけます。
c 料金はいくらですか。
a テレビの場合、5年延長保証は商品価格の5%となります。
  マイページの「保証・サポート」からお申し込みいただけます。
c わかりました。申し込んでみます。
== jp_fridge | japan | urgent | warranty,至急 | 冷蔵庫が冷えません
c 冷蔵庫が急に冷えなくなりました。中の食品が傷んでしまいそうです。急ぎで対応をお願いします。
a {cust}様、ご不便をおかけして申し訳ございません。至急対応いたします。
  恐れ入りますが、操作パネルの表示は点灯しておりますでしょうか。
c 表示は点いていますが、運転音がまったくしません。
n @Kenji 圧縮機の故障の可能性があります。明日午前の訪問枠を確保できますか？
a ありがとうございます。部品故障の可能性がございますので、明日午前中に技術員が訪問できるよう
  手配いたしました。修理受付番号は {case} です。
c 助かります。よろしくお願いします。
c 本日修理していただき、また冷えるようになりました。
a 無事に修理が完了したとのこと、安心いたしました。このたびはご不便をおかけし、
  誠に申し訳ございませんでした。
== jp_delivery_time | japan | - | shipping | 配達日時を変更したい
c 明日配達予定のテレビですが、急な仕事で受け取れなくなりました。日時を変更できますか。
a {cust}様、ご連絡ありがとうございます。変更可能でございます。
  ご希望の日にちと時間帯をお知らせください。
c 今週の土曜日、18時以降でお願いします。
a 承知いたしました。土曜日18時〜21時のお届けに変更いたしました。
c ありがとうございます。
== jp_coupon | japan | - | billing | クーポンが使えませんでした
c メールで届いた1,000円引きクーポンを使おうとしたのですが、「対象外」と表示されて使えませんでした。
a {cust}様、ご不便をおかけして申し訳ございません。
  恐れ入りますが、ご購入予定の商品名を教えていただけますでしょうか。
c コードレス掃除機のAC-V20です。
a 確認いたしましたところ、こちらはセール価格の商品のため、クーポンの対象外となっておりました。
  ご案内が分かりにくく申し訳ございません。お詫びとして500円分のポイントを付与いたしました。
c そうだったんですね。ポイントありがとうございます。
== jp_recycle | japan | - | - | 古い冷蔵庫の引き取り
c 新しい冷蔵庫の配達のときに、古い冷蔵庫を引き取ってもらえますか。
a {cust}様、お問い合わせありがとうございます。はい、家電リサイクル法に基づき、
  配達時の引き取りが可能です。リサイクル料金と収集運搬料金がかかります。
c 料金はいくらになりますか。
a 冷蔵庫（171リットル以上）の場合、リサイクル料金4,730円と収集運搬料金1,650円の
  合計6,380円です。ご注文に追加いたしましょうか。
c はい、追加してください。
a 承知いたしました。ご注文 {order} に引き取りを追加いたしました。
  当日は冷蔵庫の中を空にし、電源を抜いておいていただけますようお願いいたします。
== jp_bill_breakdown | japan | - | billing | 請求金額の内訳について
c 今月の請求額が思っていたより高いのですが、内訳を教えてください。
a {cust}様、お問い合わせありがとうございます。確認いたしますので、少々お待ちください。
n 延長保証の年額と設置費が同月に計上されている。説明で対応可。
a お待たせいたしました。今月のご請求には、商品代金のほかに設置工事費（5,500円）と
  延長保証料（3,980円）が含まれております。明細はマイページの「ご利用明細」でもご確認いただけます。
c なるほど、わかりました。ありがとうございます。
"""

# Used once, for the contact who opted out of SMS.
_STOP_SCRIPT = """
== sms_stop | support | - | shipping | Delivery today
c Hi, is my delivery for order {order} still coming today?
a Hi {cust}, yes, the driver is scheduled between 2 and 4 pm today. - {agent}, Acme Home
  Electronics
c ok thx
a You're welcome! You'll get a text when the driver is 30 minutes away.
c STOP
s """ + events.SMS_OPTED_OUT.format() + "\n"

_DIRECTIONS = {"c": "inbound", "a": "outbound", "n": "note", "s": "system"}


@dataclass(frozen=True)
class _Scenario:
    key: str
    locale: str
    team: str
    urgent: bool
    tags: tuple[str, ...]
    subject: str
    steps: tuple[tuple[str, str], ...]  # (direction, body template)


def _parse_scripts(text: str, locale: str) -> tuple[_Scenario, ...]:
    joiner = "" if locale == "ja" else " "
    heads: list[list[str]] = []
    steps: list[list[list[str]]] = []
    for line in text.strip().splitlines():
        if line.startswith("== "):
            heads.append([part.strip() for part in line[3:].split("|")])
            steps.append([])
        elif line[:1].isspace():
            steps[-1][-1][1] += joiner + line.strip()
        elif line.strip():
            kind, _, body = line.partition(" ")
            steps[-1].append([_DIRECTIONS[kind], body.strip()])
    return tuple(
        _Scenario(
            key=key,
            locale=locale,
            team=team,
            urgent=hint == "urgent",
            tags=tuple(t for t in tags.split(",") if t != "-"),
            subject=subject,
            steps=tuple((d, b) for d, b in script),
        )
        for (key, team, hint, tags, subject), script in zip(heads, steps, strict=True)
    )


EN_SCENARIOS = _parse_scripts(_EN_SCRIPTS, "en")
JA_SCENARIOS = _parse_scripts(_JA_SCRIPTS, "ja")
_STOP_SCENARIO = _parse_scripts(_STOP_SCRIPT, "en")[0]

# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------


@dataclass
class _Draft:
    contact: DemoContact
    channel: DemoChannel
    scenario: _Scenario
    status: str
    assignee: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


_AGENT_BY_EMAIL = {a.email: a for a in AGENTS}
_SUPERVISOR = next(a for a in AGENTS if a.role == "supervisor")


def _first_name(agent: DemoAgent) -> str:
    return agent.name.split()[0]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _handle_factory(rng: random.Random):
    used: set[tuple[str, str]] = set()
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"

    def make(ctype: str, local: str, domain: str, phone: str) -> str:
        for attempt in range(1000):
            if ctype == "email":
                suffix = str(rng.randint(2, 99)) if attempt else ""
                handle = f"{local}{suffix}@{domain}"
            elif ctype in ("sms", "whatsapp"):
                handle = phone
            elif ctype == "messenger":
                handle = f"psid-{rng.randint(10000, 99999)}"
            elif ctype == "instagram":
                handle = f"ig-{rng.randint(10**9, 10**10 - 1)}"
            elif ctype == "line":
                handle = f"line-U{rng.getrandbits(128):032x}"
            else:
                handle = "visitor-" + "".join(rng.choice(alphabet) for _ in range(8))
            if (ctype, handle) not in used:
                used.add((ctype, handle))
                return handle
        raise RuntimeError(f"could not make a unique {ctype} handle")

    return make


def _build_contacts(rng: random.Random) -> tuple[list[DemoContact], str]:
    """Return the contacts (keys c001…) and the key of the contact who opted out of SMS."""
    # (name, locale, email local part, email domain, channel types)
    specs: list[tuple[str, str, str, str, tuple[str, ...]]] = []
    en_pairs = rng.sample([(f, la) for f in _EN_FIRST for la in _EN_LAST], N_EN_CONTACTS)
    for i, (first, last) in enumerate(en_pairs):
        clean = "".join(ch for ch in last.lower() if ch.isalnum())
        local = rng.choice((f"{first.lower()}.{clean}", f"{first[0].lower()}{clean}",
                            f"{first.lower()}_{clean}", f"{first.lower()}{clean}"))
        if i == 0:
            types: tuple[str, ...] = ("sms",)
        elif i <= len(_EN_MULTI):
            types = _EN_MULTI[i - 1]
        else:
            types = (_weighted(rng, _EN_SINGLE),)
        specs.append((f"{first} {last}", "en", local, "example.com", types))
    ja_pairs = rng.sample([(f, g) for f in _JA_FAMILY for g in _JA_GIVEN], N_JA_CONTACTS)
    for i, ((family, fam_r), (given, giv_r)) in enumerate(ja_pairs):
        local = rng.choice((f"{giv_r}.{fam_r}", f"{fam_r}.{giv_r}", f"{giv_r[0]}{fam_r}",
                            f"{fam_r}_{giv_r}"))
        types = _JA_MULTI[i] if i < len(_JA_MULTI) else (_weighted(rng, _JA_SINGLE),)
        specs.append((f"{family} {given}", "ja", local, "example.jp", types))
    stop_spec = specs[0]
    rng.shuffle(specs)

    make = _handle_factory(rng)
    phones = rng.sample(range(10000), len(specs))
    contacts = []
    stop_key = ""
    for n, (spec, phone) in enumerate(zip(specs, phones, strict=True), start=1):
        name, locale, local, domain, types = spec
        key = f"c{n:03d}"
        opted_out = spec is stop_spec
        if opted_out:
            stop_key = key
        identities = tuple(
            DemoIdentity(t, make(t, local, domain, f"+1555010{phone:04d}"), opted_out)
            for t in types
        )
        attributes = {
            "customer_id": f"CU-{rng.randint(100000, 999999)}",
            "city": rng.choice(_EN_CITIES if locale == "en" else _JA_CITIES),
            "tier": _weighted(rng, _TIERS),
            "orders": str(rng.randint(1, 14)),
        }
        contacts.append(DemoContact(key, name, locale, identities, attributes))
    return contacts, stop_key


def _pick_channel(ctype: str, locale: str, team: str) -> DemoChannel:
    japanese = locale == "ja"
    candidates = [c for c in CHANNELS if c.type == ctype and (c.team == "japan") == japanese]
    preferred = [c for c in candidates if c.team == team]
    return (preferred or [c for c in candidates if c.team == "support"] or candidates)[0]


def _eligible(team: str) -> list[DemoAgent]:
    return [a for a in AGENTS if team in a.teams or a.role == "supervisor"]


def _assign(rng: random.Random, drafts: list[_Draft]) -> None:
    free = [i for i, d in enumerate(drafts) if d.scenario is not _STOP_SCENARIO]
    for status, count in UNASSIGNED_SHARE.items():
        pool = [i for i in free if drafts[i].status == status]
        for i in rng.sample(pool, count):
            free.remove(i)
    demo = _AGENT_BY_EMAIL[DEMO_AGENT_EMAIL]
    for japanese, share in ((False, DEMO_AGENT_SHARE), (True, DEMO_AGENT_JAPANESE_SHARE)):
        for status, count in share.items():
            pool = [i for i in free if drafts[i].status == status
                    and (drafts[i].channel.team == "japan") == japanese]
            for i in rng.sample(pool, count):
                drafts[i].assignee = demo.email
                free.remove(i)
    for i in free:
        agents = [a for a in _eligible(drafts[i].channel.team) if a is not demo]
        weights = [1 if a.role == "supervisor" else 2 if a.role == "trainee" else 5 for a in agents]
        drafts[i].assignee = rng.choices(agents, weights=weights)[0].email


def _cut(rng: random.Random, steps: list[tuple[str, str]], status: str, assigned: bool) -> int:
    """How many script steps a conversation in this status has seen so far."""
    if status == "resolved":
        return len(steps)
    if status == "open":
        if not assigned and rng.random() < 0.5:
            return next((i for i, s in enumerate(steps) if s[0] != "inbound"), len(steps))
        wanted = ("inbound",)
    else:
        wanted = ("outbound",) if status == "pending" else ("outbound", "note")
    ends = [i + 1 for i, s in enumerate(steps) if s[0] in wanted]
    return rng.choice(ends) if ends else len(steps)


def _last_inbound_age(rng: random.Random, d: _Draft, counters: dict[str, int]) -> int:
    ctype = d.channel.type
    counters[ctype] = counters.get(ctype, 0) + 1
    if ctype == "whatsapp":  # ~40% outside the 24 h customer-service window
        if counters[ctype] % 5 in (1, 3):
            return rng.randint(1500, 6000)
        return rng.randint(15, 1300)
    if ctype in ("messenger", "instagram"):  # within 24 h, or between 24 h and 7 days
        if counters[ctype] % 2:
            return rng.randint(1500, 9500)
        return rng.randint(15, 1300)
    recent = 0.45 if d.status == "resolved" else 0.8
    return rng.randint(5, 2880) if rng.random() < recent else rng.randint(2880, 19000)


def _gap(rng: random.Random, direction: str, ctype: str) -> int:
    if direction == "system":
        return 1
    return rng.randint(25, 300) if ctype == "email" else rng.randint(1, 14)


def _build_messages(
    rng: random.Random, d: _Draft, counters: dict[str, int]
) -> tuple[DemoMessage, ...]:
    steps = list(d.scenario.steps)
    steps = steps[: _cut(rng, steps, d.status, d.assignee is not None)]
    team_agents = [a for a in _eligible(d.channel.team) if a.role != "supervisor"]
    handler = _AGENT_BY_EMAIL[d.assignee] if d.assignee else rng.choice(team_agents)
    if d.assignee and len(steps) < 12 and rng.random() < 0.3:
        steps.insert(1, ("system", events.CONVERSATION_ASSIGNED.format(agent=handler.name)))
    if d.status == "resolved" and len(steps) < 12 and rng.random() < 0.3:
        steps.append(("system", events.CONVERSATION_RESOLVED.format(agent=handler.name)))

    cust = d.contact.name.split()[0]
    values = {"{cust}": cust, "{agent}": _first_name(handler), **d.extra}
    last_in = max(i for i, s in enumerate(steps) if s[0] == "inbound")
    times = [0] * len(steps)
    times[last_in] = _last_inbound_age(rng, d, counters)
    for i in range(last_in + 1, len(steps)):
        times[i] = times[i - 1] - _gap(rng, steps[i][0], d.channel.type)
    for i in range(last_in - 1, -1, -1):
        times[i] = times[i + 1] + _gap(rng, steps[i + 1][0], d.channel.type)
    shift = max(0, 2 - times[-1])
    messages = []
    for (direction, template), minutes in zip(steps, times, strict=True):
        body = template
        for placeholder, value in values.items():
            body = body.replace(placeholder, value)
        author = None
        if direction == "outbound":
            author = handler.email
        elif direction == "note":
            # Nobody @mentions themselves: hand such a note to the supervisor.
            mentioned = f"@{_first_name(handler)}" in body
            author = _SUPERVISOR.email if mentioned else handler.email
        messages.append(DemoMessage(direction, body, minutes + shift, author))
    return tuple(messages)


def _priority(rng: random.Random, scenario: _Scenario) -> str:
    if scenario.urgent:
        return rng.choice(("urgent", "high"))
    return _weighted(rng, (("normal", 66), ("high", 21), ("low", 11), ("urgent", 2)))


def build_demo_workspace() -> DemoWorkspace:
    """Build the demo workspace. Deterministic: every call returns an equal workspace."""
    rng = random.Random(SEED)
    contacts, stop_key = _build_contacts(rng)
    by_key = {c.key: c for c in contacts}

    # Every contact gets a conversation on each of its channels, the rest are random.
    plan = [(c, i.channel_type) for c in contacts if c.key != stop_key for i in c.identities]
    regulars = [c for c in contacts if c.key != stop_key]
    while len(plan) < N_CONVERSATIONS - 1:
        contact = rng.choice(regulars)
        plan.append((contact, rng.choice(contact.identities).channel_type))
    rng.shuffle(plan)
    statuses = [s for s, n in STATUS_COUNTS.items() for _ in range(n)]
    statuses.remove("resolved")  # the SMS opt-out conversation is resolved
    rng.shuffle(statuses)

    used: dict[str, set[str]] = {}
    drafts = []
    for (contact, ctype), status in zip(plan, statuses, strict=True):
        pool = EN_SCENARIOS if contact.locale == "en" else JA_SCENARIOS
        seen = used.setdefault(contact.key, set())
        scenario = rng.choice([s for s in pool if s.key not in seen] or list(pool))
        seen.add(scenario.key)
        channel = _pick_channel(ctype, contact.locale, scenario.team)
        drafts.append(_Draft(contact, channel, scenario, status))
    stop_channel = next(c for c in CHANNELS if c.type == "sms")
    stop = _Draft(by_key[stop_key], stop_channel, _STOP_SCENARIO, "resolved", DEMO_AGENT_EMAIL)
    drafts.insert(rng.randrange(len(drafts)), stop)
    _assign(rng, drafts)

    counters: dict[str, int] = {}
    conversations = []
    for n, d in enumerate(drafts, start=1):
        d.extra = {
            "{order}": f"AH-{rng.randint(1000000, 9999999)}",
            "{track}": f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-"
            f"{rng.randint(1000, 9999)}",
            "{case}": f"RC-{rng.randint(10000, 99999)}",
        }
        messages = _build_messages(rng, d, counters)
        subject = None
        if d.channel.type == "email":
            subject = d.scenario.subject.replace("{order}", d.extra["{order}"])
        tags = [t for t in d.scenario.tags if rng.random() < 0.85]
        if d.contact.attributes["tier"] == "VIP" and "vip" not in tags:
            tags.append("vip")
        snoozed = None
        if d.status == "snoozed":
            snoozed = rng.choice((60, 120, 240, 480, 1440, 2880, 4320))
        conversations.append(
            DemoConversation(
                key=f"conv-{n:03d}",
                channel=d.channel.key,
                contact=d.contact.key,
                subject=subject,
                status=d.status,
                snoozed_minutes=snoozed,
                priority=_priority(rng, d.scenario),
                assignee=d.assignee,
                tags=tuple(tags[:3]),
                messages=messages,
            )
        )

    return DemoWorkspace(
        teams=TEAMS,
        agents=AGENTS,
        channels=CHANNELS,
        contacts=tuple(contacts),
        conversations=tuple(conversations),
        canned_replies=CANNED_REPLIES,
        templates=TEMPLATES,
        tags=TAGS,
    )
