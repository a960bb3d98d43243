<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja" sourcelanguage="en">
<context>
    <name>AboutDialog</name>
    <message>
        <source>About Relaydesk</source>
        <translation>Relaydesk について</translation>
    </message>
    <message>
        <source>Relaydesk {version}</source>
        <translation>Relaydesk {version}</translation>
    </message>
    <message>
        <source>The desk for contact-center agents: every channel in one inbox, working offline too.</source>
        <translation>コンタクトセンターのエージェント向けデスク。すべてのチャネルをひとつの受信箱で扱い、オフラインでも使えます。</translation>
    </message>
    <message>
        <source>Built with Qt {qt} and PySide6 {pyside}, used under the GNU Lesser General Public License version 3 (the Qt libraries are loaded dynamically and can be replaced).</source>
        <translation>Qt {qt} と PySide6 {pyside} を使用しています。これらは GNU 劣等一般公衆利用許諾書 (LGPL) バージョン 3 に基づいて利用しています（Qt のライブラリは動的に読み込まれ、差し替えることができます）。</translation>
    </message>
    <message>
        <source>Component</source>
        <translation>コンポーネント</translation>
    </message>
    <message>
        <source>Version</source>
        <translation>バージョン</translation>
    </message>
    <message>
        <source>Licence</source>
        <translation>ライセンス</translation>
    </message>
    <message>
        <source>Bundled components and their licences</source>
        <translation>同梱のコンポーネントとそのライセンス</translation>
    </message>
    <message>
        <source>{label}:</source>
        <translation>{label}:</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>コピー</translation>
    </message>
    <message>
        <source>Copy the version, the components and the folders, for a bug report</source>
        <translation>不具合の報告用に、バージョン・コンポーネント・フォルダーをコピーします</translation>
    </message>
    <message>
        <source>Workspace data</source>
        <translation>ワークスペースのデータ</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Logs</source>
        <translation>ログ</translation>
    </message>
</context>
<context>
    <name>ArticleViewer</name>
    <message>
        <source>Internal — never send to a customer</source>
        <translation>社内用 — 顧客には送らないでください</translation>
    </message>
    <message>
        <source>Article</source>
        <translation>記事</translation>
    </message>
    <message>
        <source>Insert into reply</source>
        <translation>返信に挿入</translation>
    </message>
    <message>
        <source>Article viewer</source>
        <translation>記事ビューアー</translation>
    </message>
    <message>
        <source>[Image not shown: %1]</source>
        <translation>[画像は表示されません: %1]</translation>
    </message>
    <message>
        <source>This article is not available</source>
        <translation>この記事は表示できません</translation>
    </message>
    <message>
        <source>It may have been archived, or it is not published for your teams.</source>
        <translation>アーカイブされたか、あなたのチームには公開されていない可能性があります。</translation>
    </message>
    <message>
        <source>Updated %1</source>
        <translation>更新 %1</translation>
    </message>
    <message>
        <source>Version %1</source>
        <translation>バージョン %1</translation>
    </message>
    <message>
        <source>Insert into note</source>
        <translation>社内メモに挿入</translation>
    </message>
    <message>
        <source>Open a conversation to insert this article</source>
        <translation>この記事を挿入するには会話を開いてください</translation>
    </message>
    <message>
        <source>Internal articles are for agents only: they can go into an internal note, never into a reply</source>
        <translation>社内用の記事はエージェント専用です。社内メモには挿入できますが、返信には挿入できません</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Composer</source>
        <translation>メッセージ作成欄</translation>
    </message>
    <message>
        <source>Reply</source>
        <translation>返信</translation>
    </message>
    <message>
        <source>Reply to the customer</source>
        <translation>顧客に返信します</translation>
    </message>
    <message>
        <source>Internal note</source>
        <translation>社内メモ</translation>
    </message>
    <message>
        <source>A note for your team; the customer never sees it</source>
        <translation>チーム向けのメモです。顧客には表示されません</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>メッセージ</translation>
    </message>
    <message>
        <source>Characters</source>
        <translation>文字数</translation>
    </message>
    <message>
        <source>A message can have at most {max} characters.</source>
        <translation>メッセージは最大 {max} 文字までです。</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>送信</translation>
    </message>
    <message>
        <source>Choose a template above.</source>
        <translation>上でテンプレートを選択してください。</translation>
    </message>
    <message>
        <source>Write a note for your team…</source>
        <translation>チーム向けのメモを入力…</translation>
    </message>
    <message>
        <source>Write a reply…</source>
        <translation>返信を入力…</translation>
    </message>
    <message>
        <source>Ctrl+Enter to add · / for canned replies · @ to mention</source>
        <translation>Ctrl+Enter で追加 · / で定型文 · @ でメンション</translation>
    </message>
    <message>
        <source>Ctrl+Enter to send · / for canned replies</source>
        <translation>Ctrl+Enter で送信 · / で定型文</translation>
    </message>
    <message>
        <source>Add note</source>
        <translation>メモを追加</translation>
    </message>
    <message>
        <source>No conversation is open.</source>
        <translation>会話が開かれていません。</translation>
    </message>
    <message>
        <source>Choose a template first.</source>
        <translation>先にテンプレートを選択してください。</translation>
    </message>
    <message>
        <source>Fill in every value of the template.</source>
        <translation>テンプレートの値をすべて入力してください。</translation>
    </message>
    <message>
        <source>Type a message first.</source>
        <translation>先にメッセージを入力してください。</translation>
    </message>
    <message>
        <source>The message is too long.</source>
        <translation>メッセージが長すぎます。</translation>
    </message>
    <message>
        <source>Tick “Send with the human agent tag” first.</source>
        <translation>先に「ヒューマンエージェントタグを付けて送信」にチェックを入れてください。</translation>
    </message>
    <message>
        <source>{count} / {max}</source>
        <translation>{count} / {max}</translation>
    </message>
    <message>
        <source>Send (Ctrl+Enter)</source>
        <translation>送信 (Ctrl+Enter)</translation>
    </message>
</context>
<context>
    <name>ComposerEditor</name>
    <message>
        <source>Suggestions</source>
        <translation>候補</translation>
    </message>
</context>
<context>
    <name>ConversationPane</name>
    <message>
        <source>Conversation title</source>
        <translation>会話のタイトル</translation>
    </message>
    <message>
        <source>Conversation details</source>
        <translation>会話の詳細</translation>
    </message>
    <message>
        <source>Assign</source>
        <translation>割り当て</translation>
    </message>
    <message>
        <source>Assign (A: to me)</source>
        <translation>割り当て (A: 自分に割り当て)</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>ステータス</translation>
    </message>
    <message>
        <source>Status (E: resolve, S: snooze)</source>
        <translation>ステータス (E: 解決、S: スヌーズ)</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>優先度</translation>
    </message>
    <message>
        <source>Tags</source>
        <translation>タグ</translation>
    </message>
    <message>
        <source>This conversation is no longer available to you.</source>
        <translation>この会話にはアクセスできなくなりました。</translation>
    </message>
    <message>
        <source>No conversation selected</source>
        <translation>会話が選択されていません</translation>
    </message>
    <message>
        <source>Unassigned</source>
        <translation>未割り当て</translation>
    </message>
    <message>
        <source>Me</source>
        <translation>自分</translation>
    </message>
    <message>
        <source>Sending your reply in {n} s…</source>
        <translation>返信を {n} 秒後に送信します…</translation>
    </message>
    <message>
        <source>Assigned to you</source>
        <translation>自分に割り当てました</translation>
    </message>
    <message>
        <source>Conversation resolved</source>
        <translation>会話を解決済みにしました</translation>
    </message>
    <message>
        <source>Conversation snoozed</source>
        <translation>会話をスヌーズしました</translation>
    </message>
    <message>
        <source>Status set to {status}</source>
        <translation>ステータスを「{status}」にしました</translation>
    </message>
    <message>
        <source>Until…</source>
        <translation>日時を指定…</translation>
    </message>
    <message>
        <source>Snooze until</source>
        <translation>スヌーズの終了日時</translation>
    </message>
    <message>
        <source>Snooze &amp;until:</source>
        <translation>スヌーズの解除日時(&amp;U):</translation>
    </message>
    <message>
        <source>The conversation comes back to the inbox then.</source>
        <translation>この日時になると、会話が受信箱に戻ります。</translation>
    </message>
    <message>
        <source>Assign to me</source>
        <translation>自分に割り当て</translation>
    </message>
    <message>
        <source>Unassign</source>
        <translation>割り当てを解除</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>エージェント</translation>
    </message>
    <message>
        <source>Assigned to {name}</source>
        <translation>{name} に割り当てました</translation>
    </message>
    <message>
        <source>Team</source>
        <translation>チーム</translation>
    </message>
    <message>
        <source>Moved to {team}</source>
        <translation>{team} に移動しました</translation>
    </message>
    <message>
        <source>Snooze</source>
        <translation>スヌーズ</translation>
    </message>
    <message>
        <source>Priority set to {priority}</source>
        <translation>優先度を「{priority}」にしました</translation>
    </message>
    <message>
        <source>New tag…</source>
        <translation>新しいタグ…</translation>
    </message>
    <message>
        <source>Tag “{tag}” added</source>
        <translation>タグ「{tag}」を追加しました</translation>
    </message>
    <message>
        <source>Tag “{tag}” removed</source>
        <translation>タグ「{tag}」を外しました</translation>
    </message>
    <message>
        <source>New tag</source>
        <translation>新しいタグ</translation>
    </message>
    <message>
        <source>Tag name:</source>
        <translation>タグ名:</translation>
    </message>
</context>
<context>
    <name>CrashDialog</name>
    <message>
        <source>Relaydesk: unexpected error</source>
        <translation>Relaydesk: 予期しないエラー</translation>
    </message>
    <message>
        <source>Something went wrong. Your drafts and queued replies are kept. Copy the details below and send them to your administrator.</source>
        <translation>問題が発生しました。下書きと送信待ちの返信は保持されています。以下の詳細をコピーして管理者に送ってください。</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>エラー</translation>
    </message>
    <message>
        <source>Recent log</source>
        <translation>最近のログ</translation>
    </message>
    <message>
        <source>Copy to clipboard</source>
        <translation>クリップボードにコピー</translation>
    </message>
    <message>
        <source>Copy the error and the recent log</source>
        <translation>エラーと最近のログをコピーします</translation>
    </message>
    <message>
        <source>Quit Relaydesk</source>
        <translation>Relaydesk を終了</translation>
    </message>
    <message>
        <source>Close Relaydesk now</source>
        <translation>Relaydesk を今すぐ終了します</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>閉じる</translation>
    </message>
    <message>
        <source>Close this message and keep working</source>
        <translation>このメッセージを閉じて作業を続けます</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>コピーしました</translation>
    </message>
    <message>
        <source>(and 1 more error since)</source>
        <translation>（その後さらに 1 件のエラー）</translation>
    </message>
    <message>
        <source>(and {n} more errors since)</source>
        <translation>（その後さらに {n} 件のエラー）</translation>
    </message>
</context>
<context>
    <name>CustomerAttribute</name>
    <message>
        <source>Customer ID</source>
        <translation>顧客 ID</translation>
    </message>
    <message>
        <source>Account ID</source>
        <translation>アカウント ID</translation>
    </message>
    <message>
        <source>Tier</source>
        <translation>ランク</translation>
    </message>
    <message>
        <source>Plan</source>
        <translation>プラン</translation>
    </message>
    <message>
        <source>Orders</source>
        <translation>注文数</translation>
    </message>
    <message>
        <source>Company</source>
        <translation>会社名</translation>
    </message>
    <message>
        <source>Email</source>
        <translation>メールアドレス</translation>
    </message>
    <message>
        <source>Phone</source>
        <translation>電話番号</translation>
    </message>
    <message>
        <source>City</source>
        <translation>市区町村</translation>
    </message>
    <message>
        <source>Country</source>
        <translation>国</translation>
    </message>
</context>
<context>
    <name>CustomerPanel</name>
    <message>
        <source>Customer</source>
        <translation>顧客</translation>
    </message>
    <message>
        <source>Select a conversation</source>
        <translation>会話を選択してください</translation>
    </message>
    <message>
        <source>Customer name</source>
        <translation>顧客名</translation>
    </message>
    <message>
        <source>Customer language</source>
        <translation>顧客の言語</translation>
    </message>
    <message>
        <source>Channels the customer uses</source>
        <translation>顧客が利用しているチャネル</translation>
    </message>
    <message>
        <source>Customer details</source>
        <translation>顧客の詳細</translation>
    </message>
    <message>
        <source>Channel</source>
        <translation>チャネル</translation>
    </message>
    <message>
        <source>Subject</source>
        <translation>件名</translation>
    </message>
    <message>
        <source>This name or an address contains hidden characters, shown as ⟨U+…⟩ codes: it may be made to look like someone else&apos;s.</source>
        <translation>この名前またはアドレスには隠し文字が含まれています（⟨U+…⟩ のコードで表示）。別人のものに見せかけられている可能性があります。</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>ステータス</translation>
    </message>
    <message>
        <source>Updated</source>
        <translation>更新日時</translation>
    </message>
    <message>
        <source>Last activity</source>
        <translation>最終アクティビティ</translation>
    </message>
    <message>
        <source>The customer&apos;s conversations</source>
        <translation>顧客の会話</translation>
    </message>
    <message>
        <source>Every conversation with this customer, on any channel. Click one to open it.</source>
        <translation>この顧客とのすべてのチャネルの会話です。クリックすると開きます。</translation>
    </message>
    <message>
        <source>Channels</source>
        <translation>チャネル</translation>
    </message>
    <message>
        <source>Details</source>
        <translation>詳細</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>会話</translation>
    </message>
    <message>
        <source>Language: {locale}</source>
        <translation>言語: {locale}</translation>
    </message>
    <message>
        <source>opted out</source>
        <translation>配信停止</translation>
    </message>
    <message>
        <source>The customer asked not to be messaged on this channel; replies there cannot be sent.</source>
        <translation>顧客がこのチャネルでの連絡を停止しているため、このチャネルでは返信を送信できません。</translation>
    </message>
    <message>
        <source>No known addresses</source>
        <translation>登録済みの連絡先はありません</translation>
    </message>
    <message>
        <source>{label}:</source>
        <translation>{label}:</translation>
    </message>
    <message>
        <source>{name} (open now)</source>
        <translation>{name} (表示中)</translation>
    </message>
</context>
<context>
    <name>Desk</name>
    <message>
        <source>Relaydesk</source>
        <translation>Relaydesk</translation>
    </message>
</context>
<context>
    <name>ErrorReporter</name>
    <message>
        <source>Relaydesk</source>
        <translation>Relaydesk</translation>
    </message>
</context>
<context>
    <name>InboxModel</name>
    <message>
        <source>Opted out</source>
        <translation>配信停止済み</translation>
    </message>
    <message>
        <source>Template only</source>
        <translation>テンプレートのみ</translation>
    </message>
    <message>
        <source>Window closed</source>
        <translation>返信不可</translation>
    </message>
    <message>
        <source>Due in {t}</source>
        <translation>残り {t}</translation>
    </message>
    <message>
        <source>Human agent only</source>
        <translation>有人対応のみ</translation>
    </message>
    <message>
        <source>Window {t}</source>
        <translation>返信可能 {t}</translation>
    </message>
    <message>
        <source>Channel</source>
        <translation>チャネル</translation>
    </message>
    <message>
        <source>Customer</source>
        <translation>顧客</translation>
    </message>
    <message>
        <source>Subject</source>
        <translation>件名</translation>
    </message>
    <message>
        <source>Unread messages</source>
        <translation>未読メッセージ</translation>
    </message>
    <message>
        <source>A change to this conversation failed: open it to retry or discard.</source>
        <translation>この会話への変更が失敗しました。会話を開いて再試行するか破棄してください。</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>ステータス</translation>
    </message>
    <message>
        <source>{m}m</source>
        <translation>{m}分</translation>
    </message>
    <message>
        <source>{h}h</source>
        <translation>{h}時間</translation>
    </message>
    <message>
        <source>{d}d</source>
        <translation>{d}日</translation>
    </message>
    <message>
        <source>Late {t}</source>
        <translation>{t} 超過</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>優先度</translation>
    </message>
    <message>
        <source>Tags</source>
        <translation>タグ</translation>
    </message>
    <message>
        <source>Assignee</source>
        <translation>担当者</translation>
    </message>
    <message>
        <source>Due</source>
        <translation>対応期限</translation>
    </message>
    <message>
        <source>Snoozed until</source>
        <translation>スヌーズ解除日時</translation>
    </message>
    <message>
        <source>Last activity</source>
        <translation>最終アクティビティ</translation>
    </message>
    <message>
        <source>Updated</source>
        <translation>更新日時</translation>
    </message>
    <message>
        <source>Until</source>
        <translation>解除日時</translation>
    </message>
    <message>
        <source>Unassigned</source>
        <translation>未割り当て</translation>
    </message>
    <message>
        <source>Me</source>
        <translation>自分</translation>
    </message>
    <message>
        <source>Snoozed until {when}</source>
        <translation>{when} までスヌーズ中</translation>
    </message>
    <message>
        <source>Answer due {when}</source>
        <translation>対応期限: {when}</translation>
    </message>
</context>
<context>
    <name>InboxTable</name>
    <message>
        <source>Conversations</source>
        <translation>会話</translation>
    </message>
</context>
<context>
    <name>KnownErrors</name>
    <message>
        <source>The disk is full. Free some space, then try again. Nothing you typed has been lost.</source>
        <translation>ディスクがいっぱいです。空き容量を確保してから、もう一度お試しください。入力した内容は失われていません。</translation>
    </message>
    <message>
        <source>Relaydesk&apos;s local database is busy in another program. Close other copies of Relaydesk, then try again.</source>
        <translation>Relaydesk のローカルデータベースが別のプログラムで使用中です。ほかに起動している Relaydesk を閉じてから、もう一度お試しください。</translation>
    </message>
    <message>
        <source>The server cannot be reached. Check your network connection. Your changes are kept and will be sent when it is back.</source>
        <translation>サーバーに接続できません。ネットワーク接続を確認してください。変更は保持され、接続が回復すると送信されます。</translation>
    </message>
    <message>
        <source>The outbox file is damaged, so unsent work cannot be read. It was left in place: ask your administrator before removing it.

{detail}</source>
        <translation>送信トレイのファイルが破損しているため、未送信の作業を読み込めません。ファイルはそのまま残してあります。削除する前に管理者に相談してください。

{detail}</translation>
    </message>
    <message>
        <source>a file</source>
        <translation>ファイル</translation>
    </message>
    <message>
        <source>Relaydesk is not allowed to use {path}. Check the folder&apos;s permissions, then try again.</source>
        <translation>Relaydesk には {path} を使用する権限がありません。フォルダーのアクセス許可を確認してから、もう一度お試しください。</translation>
    </message>
</context>
<context>
    <name>Labels</name>
    <message>
        <source>Open</source>
        <translation>オープン</translation>
    </message>
    <message>
        <source>Pending</source>
        <translation>保留中</translation>
    </message>
    <message>
        <source>Snoozed</source>
        <translation>スヌーズ中</translation>
    </message>
    <message>
        <source>Resolved</source>
        <translation>解決済み</translation>
    </message>
    <message>
        <source>Urgent</source>
        <translation>緊急</translation>
    </message>
    <message>
        <source>High</source>
        <translation>高</translation>
    </message>
    <message>
        <source>Normal</source>
        <translation>通常</translation>
    </message>
    <message>
        <source>Low</source>
        <translation>低</translation>
    </message>
    <message>
        <source>1 change waiting to be sent</source>
        <translation>送信待ちの変更 1 件</translation>
    </message>
    <message>
        <source>{n} changes waiting to be sent</source>
        <translation>送信待ちの変更 {n} 件</translation>
    </message>
    <message>
        <source>Email</source>
        <translation>メール</translation>
    </message>
    <message>
        <source>Web chat</source>
        <translation>Webチャット</translation>
    </message>
    <message>
        <source>SMS</source>
        <translation>SMS</translation>
    </message>
    <message>
        <source>WhatsApp</source>
        <translation>WhatsApp</translation>
    </message>
    <message>
        <source>Messenger</source>
        <translation>Messenger</translation>
    </message>
    <message>
        <source>Instagram</source>
        <translation>Instagram</translation>
    </message>
    <message>
        <source>LINE</source>
        <translation>LINE</translation>
    </message>
    <message>
        <source>Sending it again would be refused too.</source>
        <translation>もう一度送信しても同じ理由で拒否されます。</translation>
    </message>
    <message>
        <source>You are not permitted to change this conversation.</source>
        <translation>この会話を変更する権限がありません。</translation>
    </message>
    <message>
        <source>This conversation no longer exists.</source>
        <translation>この会話はもう存在しません。</translation>
    </message>
    <message>
        <source>The messaging window is closed; wait for the customer to write.</source>
        <translation>返信可能期間が終了しています。顧客からのメッセージを待ってください。</translation>
    </message>
    <message>
        <source>More than 24 hours have passed since the customer&apos;s last message: only an approved template can be sent.</source>
        <translation>顧客の最後のメッセージから 24 時間以上経過しています。承認済みのテンプレートのみ送信できます。</translation>
    </message>
    <message>
        <source>More than 24 hours have passed since the customer&apos;s last message: replies need the human-agent tag (allowed up to 7 days).</source>
        <translation>顧客の最後のメッセージから 24 時間以上経過しています。返信にはヒューマンエージェントタグが必要です（7 日以内のみ）。</translation>
    </message>
    <message>
        <source>The contact opted out of messages on this channel.</source>
        <translation>この連絡先はこのチャネルでのメッセージ受信を停止しています。</translation>
    </message>
    <message>
        <source>There is no approved template with that name for this channel.</source>
        <translation>このチャネルにその名前の承認済みテンプレートはありません。</translation>
    </message>
    <message>
        <source>That agent does not exist or is not active.</source>
        <translation>そのエージェントは存在しないか、無効になっています。</translation>
    </message>
    <message>
        <source>That team does not exist.</source>
        <translation>そのチームは存在しません。</translation>
    </message>
    <message>
        <source>The server does not know this kind of change.</source>
        <translation>サーバーはこの種類の変更に対応していません。</translation>
    </message>
    <message>
        <source>The server did not accept this change: {detail}</source>
        <translation>サーバーがこの変更を受け付けませんでした: {detail}</translation>
    </message>
    <message>
        <source>The server did not accept this change.</source>
        <translation>サーバーがこの変更を受け付けませんでした。</translation>
    </message>
    <message>
        <source>The server refused this change.</source>
        <translation>サーバーがこの変更を拒否しました。</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Customer</source>
        <translation>顧客</translation>
    </message>
    <message>
        <source>Next conversation</source>
        <translation>次の会話</translation>
    </message>
    <message>
        <source>Previous conversation</source>
        <translation>前の会話</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>検索</translation>
    </message>
    <message>
        <source>Resolve</source>
        <translation>解決</translation>
    </message>
    <message>
        <source>Assign to me</source>
        <translation>自分に割り当て</translation>
    </message>
    <message>
        <source>Snooze…</source>
        <translation>スヌーズ…</translation>
    </message>
    <message>
        <source>Insert canned reply</source>
        <translation>定型文を挿入</translation>
    </message>
    <message>
        <source>Reply</source>
        <translation>返信</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>キーボードショートカット</translation>
    </message>
    <message>
        <source>Outbox…</source>
        <translation>送信トレイ…</translation>
    </message>
    <message>
        <source>Sync now</source>
        <translation>今すぐ同期</translation>
    </message>
    <message>
        <source>Sign out</source>
        <translation>サインアウト</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>終了</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>元に戻す</translation>
    </message>
    <message>
        <source>About Relaydesk</source>
        <translation>Relaydesk について</translation>
    </message>
    <message>
        <source>Sign in…</source>
        <translation>サインイン…</translation>
    </message>
    <message>
        <source>Sign out…</source>
        <translation>サインアウト…</translation>
    </message>
    <message>
        <source>Desktop notifications</source>
        <translation>デスクトップ通知</translation>
    </message>
    <message>
        <source>Open the next conversation after resolve or snooze</source>
        <translation>解決・スヌーズの後に次の会話を開く</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>ファイル(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Conversation</source>
        <translation>会話(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>表示(&amp;V)</translation>
    </message>
    <message>
        <source>Undo sending a reply</source>
        <translation>返信の送信を取り消せる時間</translation>
    </message>
    <message>
        <source>Off: send at once</source>
        <translation>オフ（すぐに送信）</translation>
    </message>
    <message>
        <source>For {n} seconds</source>
        <translation>{n} 秒間</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>テーマ</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>システムに合わせる</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>ライト</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>ダーク</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>言語</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>ヘルプ(&amp;H)</translation>
    </message>
    <message>
        <source>You are signed out. Sign in to see your conversations.</source>
        <translation>サインアウトしています。会話を表示するにはサインインしてください。</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>サインイン</translation>
    </message>
    <message>
        <source>1 reply or change is not sent yet. It stays queued on this computer and is sent after you sign in again.</source>
        <translation>まだ送信されていない返信・変更が 1 件あります。このコンピューターに保存されたままになり、再びサインインした後に送信されます。</translation>
    </message>
    <message>
        <source>{n} replies and changes are not sent yet. They stay queued on this computer and are sent after you sign in again.</source>
        <translation>まだ送信されていない返信・変更が {n} 件あります。このコンピューターに保存されたままになり、再びサインインした後に送信されます。</translation>
    </message>
    <message>
        <source>Relaydesk</source>
        <translation>Relaydesk</translation>
    </message>
    <message>
        <source>The local copy of your inbox is damaged. Restart Relaydesk to rebuild it from the server; your unsent work is kept.</source>
        <translation>受信箱のローカルコピーが破損しています。Relaydesk を再起動すると、サーバーから作り直します。未送信の作業は保持されます。</translation>
    </message>
    <message>
        <source>Relaydesk shows the language you chose the next time it starts.</source>
        <translation>選択した言語は、Relaydesk の次回起動時に反映されます。</translation>
    </message>
    <message>
        <source>Save view</source>
        <translation>ビューを保存</translation>
    </message>
    <message>
        <source>Name for this view:</source>
        <translation>このビューの名前:</translation>
    </message>
</context>
<context>
    <name>NavigationPane</name>
    <message>
        <source>Inbox views</source>
        <translation>受信箱のビュー</translation>
    </message>
    <message>
        <source>Choose which conversations the inbox lists</source>
        <translation>受信箱に表示する会話を選択します</translation>
    </message>
    <message>
        <source>Mine</source>
        <translation>自分の担当</translation>
    </message>
    <message>
        <source>Unassigned</source>
        <translation>未割り当て</translation>
    </message>
    <message>
        <source>All</source>
        <translation>すべて</translation>
    </message>
    <message>
        <source>Teams</source>
        <translation>チーム</translation>
    </message>
    <message>
        <source>Channels</source>
        <translation>チャネル</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>ステータス</translation>
    </message>
    <message>
        <source>Tags</source>
        <translation>タグ</translation>
    </message>
    <message>
        <source>Saved views</source>
        <translation>保存したビュー</translation>
    </message>
    <message>
        <source>Right-click to delete this saved view</source>
        <translation>右クリックでこの保存したビューを削除できます</translation>
    </message>
    <message>
        <source>Delete saved view</source>
        <translation>保存したビューを削除</translation>
    </message>
    <message>
        <source>{name}, 1 conversation</source>
        <translation>{name}、会話 1 件</translation>
    </message>
    <message>
        <source>{name}, {n} conversations</source>
        <translation>{name}、会話 {n} 件</translation>
    </message>
</context>
<context>
    <name>Notifier</name>
    <message>
        <source>A customer</source>
        <translation>顧客</translation>
    </message>
    <message>
        <source>Assigned to you: {contact}</source>
        <translation>あなたに割り当てられました: {contact}</translation>
    </message>
</context>
<context>
    <name>OfflineBanner</name>
    <message>
        <source>Connection notice</source>
        <translation>接続に関するお知らせ</translation>
    </message>
    <message>
        <source>You&apos;re offline. Replies and changes are saved and will be sent when the connection returns.</source>
        <translation>オフラインです。返信と変更は保存され、接続が回復すると送信されます。</translation>
    </message>
    <message>
        <source>Syncing has a problem. Replies and changes are saved and will be sent once it recovers.</source>
        <translation>同期で問題が発生しています。返信と変更は保存され、回復すると送信されます。</translation>
    </message>
</context>
<context>
    <name>Outbox</name>
    <message>
        <source>Reply</source>
        <translation>返信</translation>
    </message>
    <message>
        <source>Internal note</source>
        <translation>社内メモ</translation>
    </message>
    <message>
        <source>Status change</source>
        <translation>ステータス変更</translation>
    </message>
    <message>
        <source>Assignment</source>
        <translation>割り当て</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>優先度</translation>
    </message>
    <message>
        <source>Tag added</source>
        <translation>タグ追加</translation>
    </message>
    <message>
        <source>Tag removed</source>
        <translation>タグ削除</translation>
    </message>
    <message>
        <source>Mark read</source>
        <translation>既読にする</translation>
    </message>
    <message>
        <source>Pending</source>
        <translation>送信待ち</translation>
    </message>
    <message>
        <source>Sent</source>
        <translation>送信済み</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失敗</translation>
    </message>
</context>
<context>
    <name>OutboxDialog</name>
    <message>
        <source>Outbox</source>
        <translation>送信トレイ</translation>
    </message>
    <message>
        <source>What</source>
        <translation>内容</translation>
    </message>
    <message>
        <source>Conversation</source>
        <translation>会話</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状態</translation>
    </message>
    <message>
        <source>Reason</source>
        <translation>理由</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>作成日時</translation>
    </message>
    <message>
        <source>Changes waiting for the server</source>
        <translation>サーバーの確認待ちの変更</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>再試行</translation>
    </message>
    <message>
        <source>Send the selected failed changes again</source>
        <translation>選択した失敗済みの変更をもう一度送信します</translation>
    </message>
    <message>
        <source>Discard…</source>
        <translation>破棄…</translation>
    </message>
    <message>
        <source>Give up on the selected failed changes</source>
        <translation>選択した失敗済みの変更を破棄します</translation>
    </message>
    <message>
        <source>Discard</source>
        <translation>破棄</translation>
    </message>
    <message>
        <source>Nothing is waiting to be sent.</source>
        <translation>送信待ちの項目はありません。</translation>
    </message>
    <message>
        <source>1 change not yet confirmed by the server</source>
        <translation>サーバー未確認の変更 1 件</translation>
    </message>
    <message>
        <source>{n} changes not yet confirmed by the server</source>
        <translation>サーバー未確認の変更 {n} 件</translation>
    </message>
    <message>
        <source>{waiting}; {failed} failed.</source>
        <translation>{waiting}、失敗 {failed} 件。</translation>
    </message>
    <message>
        <source>Discard changes</source>
        <translation>変更を破棄</translation>
    </message>
    <message>
        <source>Discard the failed change? It will not be sent.</source>
        <translation>失敗した変更を破棄しますか? これは送信されません。</translation>
    </message>
    <message>
        <source>Discard {n} failed changes? They will not be sent.</source>
        <translation>失敗した変更 {n} 件を破棄しますか? これらは送信されません。</translation>
    </message>
</context>
<context>
    <name>SearchBar</name>
    <message>
        <source>Search customer, subject or message (Ctrl+K)</source>
        <translation>顧客・件名・メッセージを検索 (Ctrl+K)</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>会話を検索</translation>
    </message>
    <message>
        <source>Save view</source>
        <translation>ビューを保存</translation>
    </message>
    <message>
        <source>Save this view with its search under a name, in Saved views</source>
        <translation>このビューを検索条件ごと名前を付けて「保存したビュー」に保存します</translation>
    </message>
    <message>
        <source>Conversation count</source>
        <translation>会話数</translation>
    </message>
    <message>
        <source>Sort conversations</source>
        <translation>会話の並べ替え</translation>
    </message>
    <message>
        <source>Order of the list</source>
        <translation>一覧の並び順</translation>
    </message>
    <message>
        <source>Last activity</source>
        <translation>最終アクティビティ</translation>
    </message>
    <message>
        <source>Waiting longest</source>
        <translation>待ち時間が長い順</translation>
    </message>
    <message>
        <source>Priority</source>
        <translation>優先度</translation>
    </message>
    <message>
        <source>Counting…</source>
        <translation>件数を確認中…</translation>
    </message>
    <message>
        <source>1 conversation</source>
        <translation>1 件の会話</translation>
    </message>
    <message>
        <source>{n} conversations</source>
        <translation>{n} 件の会話</translation>
    </message>
    <message>
        <source>this view</source>
        <translation>このビュー</translation>
    </message>
    <message>
        <source>Searched conversations of every status in “{view}”.</source>
        <translation>「{view}」の全ステータスの会話を検索しました。</translation>
    </message>
    <message>
        <source>Searched open and pending conversations in “{view}”.</source>
        <translation>「{view}」のオープン・保留中の会話を検索しました。</translation>
    </message>
    <message>
        <source>Searched {statuses} conversations in “{view}”.</source>
        <translation>「{view}」の{statuses}の会話を検索しました。</translation>
    </message>
    <message>
        <source>, </source>
        <translation>・</translation>
    </message>
    <message>
        <source>Nothing matches “{text}”.</source>
        <translation>「{text}」に一致するものはありません。</translation>
    </message>
    <message>
        <source>Only the view&apos;s statuses</source>
        <translation>ビューのステータスのみ</translation>
    </message>
    <message>
        <source>Search every status</source>
        <translation>全ステータスを検索</translation>
    </message>
    <message>
        <source>Search only the statuses this view shows</source>
        <translation>このビューが表示するステータスだけを検索します</translation>
    </message>
    <message>
        <source>Search snoozed and resolved conversations too</source>
        <translation>スヌーズ中・解決済みの会話も検索します</translation>
    </message>
</context>
<context>
    <name>ShortcutSheet</name>
    <message>
        <source>Send the reply or note</source>
        <translation>返信または社内メモを送信</translation>
    </message>
    <message>
        <source>Leave the composer (the draft is kept)</source>
        <translation>メッセージ作成欄から離れる（下書きは保持）</translation>
    </message>
    <message>
        <source>Mention an agent in a note</source>
        <translation>社内メモでエージェントをメンション</translation>
    </message>
    <message>
        <source>Keyboard shortcuts</source>
        <translation>キーボードショートカット</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>キー</translation>
    </message>
    <message>
        <source>Action</source>
        <translation>操作</translation>
    </message>
</context>
<context>
    <name>SignIn</name>
    <message>
        <source>The server&apos;s certificate could not be verified. Check the address, or ask your IT team to install the certificate on this computer.</source>
        <translation>サーバーの証明書を検証できませんでした。アドレスを確認するか、このコンピューターへの証明書のインストールを IT 部門に依頼してください。</translation>
    </message>
    <message>
        <source>A secure connection to the server could not be set up. Check the address (http:// or https://) and the port.</source>
        <translation>サーバーとの安全な接続を確立できませんでした。アドレス (http:// または https://) とポート番号を確認してください。</translation>
    </message>
    <message>
        <source>The server could not be reached. Check the address and your network connection.</source>
        <translation>サーバーに接続できませんでした。アドレスとネットワーク接続を確認してください。</translation>
    </message>
    <message>
        <source>Wrong email or password.</source>
        <translation>メールアドレスまたはパスワードが正しくありません。</translation>
    </message>
    <message>
        <source>Too many failed attempts. Wait a few minutes, then try again.</source>
        <translation>サインインの失敗が続いています。数分待ってから、もう一度お試しください。</translation>
    </message>
    <message>
        <source>There is no Relaydesk server at this address.</source>
        <translation>このアドレスには Relaydesk サーバーがありません。</translation>
    </message>
    <message>
        <source>The server has a problem right now. Try again in a moment.</source>
        <translation>現在サーバーで問題が発生しています。しばらくしてから、もう一度お試しください。</translation>
    </message>
    <message>
        <source>Sign-in failed: {error}</source>
        <translation>サインインに失敗しました: {error}</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>Sign in to Relaydesk</source>
        <translation>Relaydesk にサインイン</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>サーバーアドレス</translation>
    </message>
    <message>
        <source>The address of your team&apos;s Relaydesk server</source>
        <translation>チームの Relaydesk サーバーのアドレス</translation>
    </message>
    <message>
        <source>you@example.com</source>
        <translation>you@example.com</translation>
    </message>
    <message>
        <source>Email</source>
        <translation>メールアドレス</translation>
    </message>
    <message>
        <source>The email address of your Relaydesk account</source>
        <translation>Relaydesk アカウントのメールアドレス</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>パスワード</translation>
    </message>
    <message>
        <source>Your Relaydesk password</source>
        <translation>Relaydesk のパスワード</translation>
    </message>
    <message>
        <source>Sign-in status</source>
        <translation>サインインの状態</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>サインイン</translation>
    </message>
    <message>
        <source>Sign in with this address, email and password</source>
        <translation>入力したサーバーアドレス、メールアドレス、パスワードでサインインします</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>キャンセル</translation>
    </message>
    <message>
        <source>Close without signing in</source>
        <translation>サインインせずに閉じます</translation>
    </message>
    <message>
        <source>&amp;Server:</source>
        <translation>サーバー(&amp;S):</translation>
    </message>
    <message>
        <source>&amp;Email:</source>
        <translation>メールアドレス(&amp;E):</translation>
    </message>
    <message>
        <source>&amp;Password:</source>
        <translation>パスワード(&amp;P):</translation>
    </message>
    <message>
        <source>Enter the server address, like https://relaydesk.example.com.</source>
        <translation>サーバーアドレスを入力してください (例: https://relaydesk.example.com)。</translation>
    </message>
    <message>
        <source>Enter the email address of your account.</source>
        <translation>アカウントのメールアドレスを入力してください。</translation>
    </message>
    <message>
        <source>Enter your password.</source>
        <translation>パスワードを入力してください。</translation>
    </message>
    <message>
        <source>Signing in…</source>
        <translation>サインイン中…</translation>
    </message>
</context>
<context>
    <name>Snooze</name>
    <message>
        <source>For 1 hour</source>
        <translation>1 時間</translation>
    </message>
    <message>
        <source>For 4 hours</source>
        <translation>4 時間</translation>
    </message>
    <message>
        <source>Until tomorrow {time}</source>
        <translation>明日 {time} まで</translation>
    </message>
    <message>
        <source>Until Monday {time}</source>
        <translation>月曜日 {time} まで</translation>
    </message>
</context>
<context>
    <name>SyncStatusWidget</name>
    <message>
        <source>Connection</source>
        <translation>接続</translation>
    </message>
    <message>
        <source>Sign in to sync again</source>
        <translation>サインインして同期を再開します</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>サインイン</translation>
    </message>
    <message>
        <source>Download progress</source>
        <translation>ダウンロードの進行状況</translation>
    </message>
    <message>
        <source>Show what is waiting to be sent</source>
        <translation>送信待ちの項目を表示します</translation>
    </message>
    <message>
        <source>Pending changes</source>
        <translation>送信待ちの変更</translation>
    </message>
    <message>
        <source>Show what the server refused, with the reasons</source>
        <translation>サーバーが拒否した項目と理由を表示します</translation>
    </message>
    <message>
        <source>Failed changes</source>
        <translation>失敗した変更</translation>
    </message>
    <message>
        <source>Last sync</source>
        <translation>最終同期</translation>
    </message>
    <message>
        <source>Session-only sign-in</source>
        <translation>このセッション限りのサインイン</translation>
    </message>
    <message>
        <source>Secure keyring unavailable: sign-in kept for this session only.</source>
        <translation>安全なキーリングを利用できません。サインイン情報はこのセッションの間だけ保持されます。</translation>
    </message>
    <message>
        <source>{n} pending</source>
        <translation>送信待ち {n} 件</translation>
    </message>
    <message>
        <source>{n} failed</source>
        <translation>失敗 {n} 件</translation>
    </message>
    <message>
        <source>Synced {time}</source>
        <translation>{time} に同期済み</translation>
    </message>
    <message>
        <source>Last sync {time}</source>
        <translation>最終同期 {time}</translation>
    </message>
    <message>
        <source>Online · up to date</source>
        <translation>オンライン · 最新の状態</translation>
    </message>
    <message>
        <source>Syncing…</source>
        <translation>同期中…</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>接続中…</translation>
    </message>
    <message>
        <source>Downloading workspace {pct}%</source>
        <translation>ワークスペースをダウンロード中 {pct}%</translation>
    </message>
    <message>
        <source>Offline — retrying in {s} s</source>
        <translation>オフライン — {s} 秒後に再試行</translation>
    </message>
    <message>
        <source>Offline — retrying…</source>
        <translation>オフライン — 再試行中…</translation>
    </message>
    <message>
        <source>Sign-in required</source>
        <translation>サインインが必要です</translation>
    </message>
    <message>
        <source>Server busy — retrying</source>
        <translation>サーバーが混雑しています — 再試行します</translation>
    </message>
    <message>
        <source>Server error — retrying</source>
        <translation>サーバーエラー — 再試行します</translation>
    </message>
    <message>
        <source>The server refused to sync — retrying later</source>
        <translation>サーバーが同期を拒否しました — 後で再試行します</translation>
    </message>
    <message>
        <source>The server keeps asking for a full download — retrying later</source>
        <translation>サーバーが全件ダウンロードを繰り返し要求しています — 後で再試行します</translation>
    </message>
    <message>
        <source>Unreadable answer from the server — retrying</source>
        <translation>サーバーの応答を読み取れません — 再試行します</translation>
    </message>
    <message>
        <source>Syncing failed unexpectedly — retrying</source>
        <translation>予期しない理由で同期に失敗しました — 再試行します</translation>
    </message>
    <message>
        <source>Error: {message}</source>
        <translation>エラー: {message}</translation>
    </message>
</context>
<context>
    <name>SystemEvent</name>
    <message>
        <source>Status set to {status} by {by}</source>
        <translation>{by} がステータスを「{status}」に変更しました</translation>
    </message>
    <message>
        <source>Snoozed until {until} by {by}</source>
        <translation>{by} が {until} までスヌーズしました</translation>
    </message>
    <message>
        <source>Assigned to {agent} by {by}</source>
        <translation>{by} が {agent} に割り当てました</translation>
    </message>
    <message>
        <source>Self-assigned by {by}</source>
        <translation>{by} が自分に割り当てました</translation>
    </message>
    <message>
        <source>Unassigned by {by}</source>
        <translation>{by} が未割り当てに戻しました</translation>
    </message>
    <message>
        <source>Moved to team {team}</source>
        <translation>チーム「{team}」に移動しました</translation>
    </message>
    <message>
        <source>Conversation assigned to {agent}</source>
        <translation>会話を {agent} に割り当てました</translation>
    </message>
    <message>
        <source>Conversation resolved by {agent}</source>
        <translation>{agent} が会話を解決しました</translation>
    </message>
    <message>
        <source>Contact opted out of SMS. Outbound SMS to this number is blocked.</source>
        <translation>連絡先が SMS の配信を停止しました。この番号への SMS 送信はブロックされます。</translation>
    </message>
</context>
<context>
    <name>Thread</name>
    <message>
        <source>[image removed]</source>
        <translation>[画像は削除されました]</translation>
    </message>
    <message>
        <source>Today</source>
        <translation>今日</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>昨日</translation>
    </message>
    <message>
        <source>Waiting to save</source>
        <translation>保存待ち</translation>
    </message>
    <message>
        <source>Waiting to send</source>
        <translation>送信待ち</translation>
    </message>
    <message>
        <source>Sent</source>
        <translation>送信済み</translation>
    </message>
    <message>
        <source>Failed: {reason}</source>
        <translation>失敗: {reason}</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>再試行</translation>
    </message>
    <message>
        <source>Discard</source>
        <translation>破棄</translation>
    </message>
    <message>
        <source>Customer</source>
        <translation>顧客</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>エージェント</translation>
    </message>
    <message>
        <source>Internal note · {name}</source>
        <translation>社内メモ · {name}</translation>
    </message>
    <message>
        <source>Bot</source>
        <translation>ボット</translation>
    </message>
    <message>
        <source>No messages yet</source>
        <translation>メッセージはまだありません</translation>
    </message>
    <message>
        <source>Bot · {name}</source>
        <translation>ボット · {name}</translation>
    </message>
    <message>
        <source>Template: {name}</source>
        <translation>テンプレート: {name}</translation>
    </message>
    <message>
        <source>Show more</source>
        <translation>続きを表示</translation>
    </message>
    <message>
        <source>({n} more characters)</source>
        <translation>(残り {n} 文字)</translation>
    </message>
    <message>
        <source>Show less</source>
        <translation>折りたたむ</translation>
    </message>
    <message>
        <source>Load older messages</source>
        <translation>以前のメッセージを読み込む</translation>
    </message>
</context>
<context>
    <name>ThreadView</name>
    <message>
        <source>Conversation thread</source>
        <translation>会話のスレッド</translation>
    </message>
    <message>
        <source>Messages of the open conversation, newest last</source>
        <translation>表示中の会話のメッセージ (新しいものが下)</translation>
    </message>
    <message>
        <source>Send this message again</source>
        <translation>このメッセージをもう一度送信します</translation>
    </message>
    <message>
        <source>Remove this failed message</source>
        <translation>送信に失敗したこのメッセージを削除します</translation>
    </message>
</context>
<context>
    <name>UndoManager</name>
    <message>
        <source>Reply taken back: it is in the composer again.</source>
        <translation>返信を取り消しました。入力欄に戻っています。</translation>
    </message>
    <message>
        <source>Reply taken back.</source>
        <translation>返信を取り消しました。</translation>
    </message>
    <message>
        <source>Undone.</source>
        <translation>元に戻しました。</translation>
    </message>
    <message>
        <source>Too late to undo: the reply was sent.</source>
        <translation>返信はすでに送信されたため、取り消せません。</translation>
    </message>
</context>
<context>
    <name>UndoToast</name>
    <message>
        <source>Undo</source>
        <translation>元に戻す</translation>
    </message>
    <message>
        <source>Undo ({key})</source>
        <translation>元に戻す（{key}）</translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation>閉じる</translation>
    </message>
</context>
<context>
    <name>WelcomeDialog</name>
    <message>
        <source>Welcome to Relaydesk</source>
        <translation>Relaydesk へようこそ</translation>
    </message>
    <message>
        <source>Relaydesk</source>
        <translation>Relaydesk</translation>
    </message>
    <message>
        <source>One inbox for every channel your customers write on, online or offline.</source>
        <translation>顧客とのすべてのチャネルを 1 つの受信箱に。オフラインでも使えます。</translation>
    </message>
    <message>
        <source>Open the demo workspace</source>
        <translation>デモワークスペースを開く</translation>
    </message>
    <message>
        <source>A sample team with real conversations, on this computer. No network needed.</source>
        <translation>実際の会話を含むサンプルのチームを、このコンピューター上で試せます。ネットワークは不要です。</translation>
    </message>
    <message>
        <source>Start a local demo server and sign in to it</source>
        <translation>ローカルのデモサーバーを起動してサインインします</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>エージェント</translation>
    </message>
    <message>
        <source>Trainee</source>
        <translation>研修生</translation>
    </message>
    <message>
        <source>Supervisor</source>
        <translation>スーパーバイザー</translation>
    </message>
    <message>
        <source>Demo role</source>
        <translation>デモのロール</translation>
    </message>
    <message>
        <source>Which demo account to sign in as</source>
        <translation>サインインに使うデモアカウント</translation>
    </message>
    <message>
        <source>&amp;Role:</source>
        <translation>ロール(&amp;R):</translation>
    </message>
    <message>
        <source>Sign in to your team&apos;s server</source>
        <translation>チームのサーバーにサインイン</translation>
    </message>
    <message>
        <source>Use the address, email and password your team lead gave you.</source>
        <translation>チームリーダーから受け取ったサーバーアドレス、メールアドレス、パスワードを使います。</translation>
    </message>
    <message>
        <source>Connect to your team&apos;s Relaydesk server</source>
        <translation>チームの Relaydesk サーバーに接続します</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>終了</translation>
    </message>
    <message>
        <source>Close Relaydesk</source>
        <translation>Relaydesk を終了します</translation>
    </message>
</context>
<context>
    <name>WindowBanner</name>
    <message>
        <source>Messaging window</source>
        <translation>返信可能期間</translation>
    </message>
    <message>
        <source>Send with the human agent tag</source>
        <translation>ヒューマンエージェントタグを付けて送信</translation>
    </message>
    <message>
        <source>Messenger and Instagram allow replies up to 7 days after the customer&apos;s last message when a person (not automation) answers. Tick to confirm.</source>
        <translation>Messenger と Instagram では、自動応答ではなく担当者本人が返信する場合に限り、顧客の最後のメッセージから 7 日以内であれば返信できます。確認のうえチェックしてください。</translation>
    </message>
    <message>
        <source>Message template</source>
        <translation>メッセージテンプレート</translation>
    </message>
    <message>
        <source>Only an approved template can be sent now</source>
        <translation>現在は承認済みのテンプレートのみ送信できます</translation>
    </message>
    <message>
        <source>Choose a template…</source>
        <translation>テンプレートを選択…</translation>
    </message>
    <message>
        <source>No approved templates for this channel</source>
        <translation>このチャネルには承認済みのテンプレートがありません</translation>
    </message>
    <message>
        <source>Replaces {mark} in the template</source>
        <translation>テンプレート内の {mark} を置き換えます</translation>
    </message>
    <message>
        <source>Template value: {name}</source>
        <translation>テンプレートの値: {name}</translation>
    </message>
    <message>
        <source>{name}:</source>
        <translation>{name}:</translation>
    </message>
    <message>
        <source>Customer name</source>
        <translation>お客様のお名前</translation>
    </message>
    <message>
        <source>First name</source>
        <translation>名</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名前</translation>
    </message>
    <message>
        <source>Order number</source>
        <translation>注文番号</translation>
    </message>
    <message>
        <source>Order status</source>
        <translation>注文状況</translation>
    </message>
    <message>
        <source>Delivery time</source>
        <translation>お届け日時</translation>
    </message>
    <message>
        <source>Delivery date</source>
        <translation>お届け日</translation>
    </message>
    <message>
        <source>Tracking number</source>
        <translation>追跡番号</translation>
    </message>
    <message>
        <source>Value {n}</source>
        <translation>値 {n}</translation>
    </message>
    <message>
        <source>Internal note: only your team sees it.</source>
        <translation>社内メモ: チームのメンバーだけが閲覧できます。</translation>
    </message>
    <message>
        <source>Window open — {time} left</source>
        <translation>返信可能期間 — 残り {time}</translation>
    </message>
    <message>
        <source>More than 24 h since the customer&apos;s last message: replies need the human agent tag ({time} left).</source>
        <translation>顧客の最後のメッセージから 24 時間以上経過しています。返信にはヒューマンエージェントタグが必要です (残り {time})。</translation>
    </message>
    <message>
        <source>More than 24 h since the customer&apos;s last message: only an approved template can be sent.</source>
        <translation>顧客の最後のメッセージから 24 時間以上経過しています。承認済みのテンプレートのみ送信できます。</translation>
    </message>
    <message>
        <source>The messaging window is closed: you can reply when the customer writes again. Internal notes are still possible.</source>
        <translation>返信可能期間が終了しました。顧客から再びメッセージが届くと返信できます。社内メモは引き続き追加できます。</translation>
    </message>
    <message>
        <source>This contact replied STOP (opted out of SMS). You can&apos;t message them on SMS.</source>
        <translation>この連絡先は STOP と返信しました (SMS の配信停止)。SMS ではメッセージを送信できません。</translation>
    </message>
    <message>
        <source>less than a minute</source>
        <translation>1 分未満</translation>
    </message>
    <message>
        <source>{d} d {h} h</source>
        <translation>{d} 日 {h} 時間</translation>
    </message>
    <message>
        <source>{d} d</source>
        <translation>{d} 日</translation>
    </message>
    <message>
        <source>{h} h {m} min</source>
        <translation>{h} 時間 {m} 分</translation>
    </message>
    <message>
        <source>{m} min</source>
        <translation>{m} 分</translation>
    </message>
</context>
</TS>
