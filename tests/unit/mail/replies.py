"""Our own corpus of replies: what mail clients send back, with the new text the desk
should keep, in 18 languages and the client families our requesters use.

Written for this project from the shapes the clients produce (Gmail's, Outlook's desktop,
web and Mac header blocks, Thunderbird's and Apple Mail's attributions in each locale,
mobile clients, Yahoo's HTML, list servers' footers); no other project's fixtures. Each
case is a `Reply`: the subject (it says whether the message is a reply), the text or the
HTML body, and the expected new text. Forwards are cases too: their forwarded content is
the question and must be kept whole.

Used by tests/unit/mail/test_replies.py (the targets) and bench/replies.py (the figures,
also for the libraries we compared).
"""

from __future__ import annotations

from dataclasses import dataclass

DESK = "Help Desk <help@desk.example.com>"


@dataclass(frozen=True)
class Reply:
    id: str
    language: str
    family: str
    subject: str
    body: str  # the text/plain body, or the HTML when `html`
    expected: str
    html: bool = False
    forward: bool = False


@dataclass(frozen=True)
class Language:
    code: str
    re: str  # the reply prefix the language's clients put on subjects
    new: str  # what the requester writes
    old: str  # the message they answer
    gmail: str
    thunderbird: str
    apple: str
    outlook: tuple[str, str, str, str]  # the labels From, Sent, To, Subject
    date: str  # as Outlook writes it in the language
    phone: str  # "Sent from my iPhone"
    signoff: str


LANGUAGES = [
    Language("en", "Re", "Thanks, the printer works again.\nShall I close the ticket myself?",
             "Hello Jane,\nplease restart the print spooler and try again.\nBest regards, the IT team",
             f"On Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:",
             "On 05/03/2024 10:02, Help Desk wrote:",
             f"On 5 Mar 2024, at 10:02, {DESK} wrote:",
             ("From", "Sent", "To", "Subject"), "Tuesday, March 5, 2024 10:02 AM", "Sent from my iPhone",
             "Best regards,\nJane"),
    Language("de", "AW", "Danke, der Drucker geht wieder.\nSoll ich das Ticket selbst schließen?",
             "Hallo Jane,\nbitte starten Sie die Druckwarteschlange neu.\nViele Grüße, die IT",
             f"Am Di., 5. März 2024 um 10:02 Uhr schrieb {DESK}:",
             "Am 05.03.24 um 10:02 schrieb Help Desk:",
             f"Am 05.03.2024 um 10:02 schrieb {DESK}:",
             ("Von", "Gesendet", "An", "Betreff"), "Dienstag, 5. März 2024 10:02", "Von meinem iPhone gesendet",
             "Viele Grüße\nJana"),
    Language("fr", "RE", "Merci, l'imprimante fonctionne de nouveau.\nDois-je fermer le ticket moi-même ?",
             "Bonjour Jeanne,\nmerci de redémarrer le spouleur d'impression.\nCordialement, le support",
             f"Le mar. 5 mars 2024 à 10:02, {DESK} a écrit :",
             "Le 05/03/2024 à 10:02, Help Desk a écrit :",
             f"Le 5 mars 2024 à 10:02, {DESK} a écrit :",
             ("De ", "Envoyé ", "À ", "Objet "), "mardi 5 mars 2024 10:02", "Envoyé de mon iPhone",
             "Cordialement,\nJeanne"),
    Language("es", "RE", "Gracias, la impresora vuelve a funcionar.\n¿Cierro yo mismo el ticket?",
             "Hola Juana,\npor favor reinicia la cola de impresión.\nSaludos, el equipo de TI",
             "El mar, 5 mar 2024 a las 10:02, Help Desk (<help@desk.example.com>) escribió:",
             "El 5/3/24 a las 10:02, Help Desk escribió:",
             f"El 5 mar 2024, a las 10:02, {DESK} escribió:",
             ("De", "Enviado el", "Para", "Asunto"), "martes, 5 de marzo de 2024 10:02", "Enviado desde mi iPhone",
             "Saludos,\nJuana"),
    Language("it", "R", "Grazie, la stampante funziona di nuovo.\nDevo chiudere io il ticket?",
             "Ciao Giovanna,\nriavvia lo spooler di stampa e riprova.\nCordiali saluti, il supporto",
             f"Il giorno mar 5 mar 2024 alle ore 10:02 {DESK} ha scritto:",
             "Il 05/03/24 10:02, Help Desk ha scritto:",
             f"Il giorno 5 mar 2024, alle ore 10:02, {DESK} ha scritto:",
             ("Da", "Inviato", "A", "Oggetto"), "martedì 5 marzo 2024 10:02", "Inviato da iPhone",
             "Cordiali saluti\nGiovanna"),
    Language("nl", "Antw", "Bedankt, de printer werkt weer.\nMoet ik het ticket zelf sluiten?",
             "Hallo Jan,\nstart de afdrukwachtrij opnieuw en probeer het nog eens.\nGroet, de IT-afdeling",
             f"Op di 5 mrt 2024 om 10:02 schreef {DESK}:",
             "Op 05-03-2024 om 10:02 schreef Help Desk:",
             f"Op 5 mrt 2024 om 10:02 heeft {DESK} het volgende geschreven:",
             ("Van", "Verzonden", "Aan", "Onderwerp"), "dinsdag 5 maart 2024 10:02", "Verstuurd vanaf mijn iPhone",
             "Met vriendelijke groet,\nJan"),
    Language("pt", "RE", "Obrigada, a impressora voltou a funcionar.\nEu mesma fecho o chamado?",
             "Olá Joana,\nreinicie o spooler de impressão e tente de novo.\nAtenciosamente, a equipe de TI",
             f"Em ter., 5 de mar. de 2024 às 10:02, {DESK} escreveu:",
             "Em 05/03/2024 10:02, Help Desk escreveu:",
             f"Em 5 de mar. de 2024, à(s) 10:02, {DESK} escreveu:",
             ("De", "Enviado", "Para", "Assunto"), "terça-feira, 5 de março de 2024 10:02", "Enviado do meu iPhone",
             "Atenciosamente,\nJoana"),
    Language("sv", "SV", "Tack, skrivaren fungerar igen.\nSka jag stänga ärendet själv?",
             "Hej Johanna,\nstarta om utskriftskön och försök igen.\nVänliga hälsningar, IT",
             f"Den tis 5 mars 2024 kl 10:02 skrev {DESK}:",
             "Den 2024-03-05 kl. 10:02, skrev Help Desk:",
             f"5 mars 2024 kl. 10:02 skrev {DESK}:",
             ("Från", "Skickat", "Till", "Ämne"), "den 5 mars 2024 10:02", "Skickat från min iPhone",
             "Hälsningar\nJohanna"),
    Language("da", "SV", "Tak, printeren virker igen.\nSkal jeg selv lukke sagen?",
             "Hej Johanne,\ngenstart udskriftskøen og prøv igen.\nVenlig hilsen, IT",
             f"Den tir. 5. mar. 2024 kl. 10.02 skrev {DESK}:",
             "Den 05.03.2024 kl. 10.02 skrev Help Desk:",
             f"Den 5. mar. 2024 kl. 10.02 skrev {DESK}:",
             ("Fra", "Sendt", "Til", "Emne"), "5. marts 2024 10:02", "Sendt fra min iPhone",
             "Venlig hilsen\nJohanne"),
    Language("nb", "SV", "Takk, skriveren virker igjen.\nSkal jeg lukke saken selv?",
             "Hei Johanne,\nstart utskriftskøen på nytt og prøv igjen.\nHilsen IT",
             f"tir. 5. mar. 2024 kl. 10:02 skrev {DESK}:",
             "Den 05.03.2024 10:02, skrev Help Desk:",
             f"5. mar. 2024 kl. 10:02 skrev {DESK}:",
             ("Fra", "Sendt", "Til", "Emne"), "tirsdag 5. mars 2024 10:02", "Sendt fra min iPhone",
             "Hilsen\nJohanne"),
    Language("fi", "Re", "Kiitos, tulostin toimii taas.\nSuljenko tiketin itse?",
             "Hei Johanna,\nkäynnistä tulostusjono uudelleen ja yritä uudestaan.\nTerveisin IT-tuki",
             "ti 5. maalisk. 2024 klo 10.02 Help Desk (help@desk.example.com) kirjoitti:",
             "5.3.2024 klo 10.02 Help Desk kirjoitti:",
             f"5.3.2024 kello 10.02, {DESK} kirjoitti:",
             ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"), "tiistai 5. maaliskuuta 2024 10.02",
             "Lähetetty iPhonesta", "Terveisin\nJohanna"),
    Language("pl", "Odp", "Dziękuję, drukarka znowu działa.\nCzy mam sama zamknąć zgłoszenie?",
             "Dzień dobry,\nproszę zrestartować bufor wydruku i spróbować ponownie.\nPozdrawiamy, dział IT",
             f"wt., 5 mar 2024 o 10:02 {DESK} napisał(a):",
             "W dniu 5.03.2024 o 10:02, Help Desk pisze:",
             f"Dnia 5 marca 2024 10:02 {DESK} napisał(a):",
             ("Od", "Wysłano", "Do", "Temat"), "wtorek, 5 marca 2024 10:02", "Wysłane z iPhone'a",
             "Pozdrawiam\nJoanna"),
    Language("ru", "Re", "Спасибо, принтер снова работает.\nМне самой закрыть заявку?",
             "Здравствуйте, Иван,\nперезапустите, пожалуйста, диспетчер печати.\nС уважением, ИТ-отдел",
             f"вт, 5 мар. 2024 г. в 10:02, {DESK}:",
             "05.03.2024 10:02, Help Desk пишет:",
             f"5 марта 2024 г., в 10:02, {DESK} написал(а):",
             ("От", "Отправлено", "Кому", "Тема"), "5 марта 2024 г. 10:02", "Отправлено с iPhone",
             "С уважением,\nАнна"),
    Language("ja", "Re", "ありがとうございます。プリンターが直りました。\nチケットは私が閉じてよいですか?",
             "山田様\n印刷スプーラーを再起動してください。\nITサポート",
             f"2024年3月5日(火) 10:02 {DESK}:",
             "2024/03/05 10:02 に Help Desk さんは書きました:",
             f"2024/03/05 10:02、{DESK}のメール:",
             ("差出人", "送信日時", "宛先", "件名"), "2024年3月5日 10:02", "iPhoneから送信",
             "よろしくお願いします。\n山田"),
    Language("cs", "Re", "Děkuji, tiskárna zase funguje.\nMám požadavek uzavřít sama?",
             "Dobrý den,\nrestartujte prosím zařazování tisku.\nS pozdravem, IT",
             f"út 5. 3. 2024 v 10:02 odesílatel {DESK} napsal:",
             "Dne 05. 03. 24 v 10:02 Help Desk napsal(a):",
             f"5. 3. 2024 v 10:02, {DESK}:",
             ("Od", "Odesláno", "Komu", "Předmět"), "úterý 5. března 2024 10:02", "Odesláno z iPhonu",
             "S pozdravem\nJana"),
    Language("tr", "YNT", "Teşekkürler, yazıcı tekrar çalışıyor.\nTalebi kendim kapatayım mı?",
             "Merhaba Ayşe,\nlütfen yazdırma biriktiricisini yeniden başlatın.\nSaygılarımızla, BT",
             f"{DESK}, 5 Mar 2024 Sal, 10:02 tarihinde şunu yazdı:",
             "5.03.2024 10:02 tarihinde Help Desk yazdı:",
             f"5 Mar 2024 tarihinde 10:02 saatinde, {DESK} şunları yazdı:",
             ("Kimden", "Gönderildi", "Kime", "Konu"), "5 Mart 2024 Salı 10:02", "iPhone'umdan gönderildi",
             "Saygılarımla,\nAyşe"),
    Language("zh", "回复", "谢谢，打印机已经恢复正常。\n需要我自己关闭工单吗？",
             "您好，\n请重新启动打印后台处理程序后再试。\nIT 支持",
             f"{DESK} 于2024年3月5日周二 10:02写道：",
             "在 2024/3/5 10:02, Help Desk 写道:",
             f"2024年3月5日 10:02，{DESK} 写道：",
             ("发件人", "发送时间", "收件人", "主题"), "2024年3月5日 10:02", "发自我的iPhone",
             "谢谢\n王芳"),
    Language("hu", "Re", "Köszönöm, a nyomtató újra működik.\nLezárjam én a jegyet?",
             "Kedves Anna,\nkérjük, indítsa újra a nyomtatási sort.\nÜdvözlettel: IT",
             f"{DESK} ezt írta (időpont: 2024. márc. 5., K, 10:02):",
             "2024. 03. 05. 10:02 keltezéssel, Help Desk írta:",
             f"2024. márc. 5. dátummal, 10:02 időpontban {DESK} írta:",
             ("Feladó", "Elküldve", "Címzett", "Tárgy"), "2024. március 5., kedd 10:02", "iPhone-ról küldve",
             "Üdvözlettel:\nAnna"),
]


# Outlook's "-----Original Message-----" line as each language's Outlook writes it.
ORIGINAL = {
    "en": "Original Message", "de": "Ursprüngliche Nachricht", "fr": "Message d'origine", "es": "Mensaje original",
    "it": "Messaggio originale", "nl": "Oorspronkelijk bericht", "pt": "Mensagem original",
    "sv": "Ursprungligt meddelande", "da": "Oprindelig meddelelse", "nb": "Opprinnelig melding",
    "fi": "Alkuperäinen viesti", "pl": "Wiadomość oryginalna", "ru": "Исходное сообщение", "ja": "Original Message",
    "cs": "Původní zpráva", "tr": "Orijinal Mesaj", "zh": "原始邮件", "hu": "Eredeti üzenet",
}


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _subject(lang: Language) -> str:
    return f"{lang.re}: [#31415926] Printer"


def _reply(lang: Language, family: str, history: str, *, new: str | None = None) -> Reply:
    written = new if new is not None else f"{lang.new}\n\n{lang.signoff}"
    return Reply(f"{lang.code}-{family}", lang.code, family, _subject(lang), f"{written}\n\n{history}\n", written)


def _per_language(lang: Language) -> list[Reply]:
    labels = lang.outlook
    header = (f"{labels[0]}: {DESK}\n{labels[1]}: {lang.date}\n{labels[2]}: Jane Doe <jane@example.com>\n"
              f"{labels[3]}: {lang.re}: [#31415926] Printer")
    cases = [
        _reply(lang, "gmail", f"{lang.gmail}\n\n{_quote(lang.old)}"),
        _reply(lang, "thunderbird", f"{lang.thunderbird}\n{_quote(lang.old)}"),
        _reply(lang, "apple", f"{lang.apple}\n\n{_quote(lang.old)}"),
        _reply(lang, "outlook", f"{'_' * 32}\n{header}\n\n{lang.old}"),
        _reply(lang, "outlook-dashes", f"-----{ORIGINAL[lang.code]}-----\n{header}\n\n{lang.old}"),
        # iOS Mail: the phone's tag under the new text, the attribution quoted with the rest.
        _reply(lang, "ios", _quote(f"{lang.apple}\n\n{lang.old}"), new=f"{lang.new}\n\n{lang.phone}"),
        # Signature above the history, Gmail attribution wrapped in a blockquote-less client.
        _reply(lang, "signature-above", f"{lang.gmail}\n{_quote(lang.old)}",
               new=f"{lang.new}\n\n-- \n{lang.signoff}\nIT, 3rd floor"),
    ]
    html_header = "<br>".join(f"<b>{label}:</b> {value}" for label, value in zip(
        labels, [DESK.replace("<", "&lt;").replace(">", "&gt;"), lang.date, "Jane Doe &lt;jane@example.com&gt;",
                 f"{lang.re}: [#31415926] Printer"], strict=True))
    new_html = "".join(f"<div>{line}</div>" for line in lang.new.split("\n"))
    old_html = "".join(f"<div>{line}</div>" for line in lang.old.split("\n"))
    cases.append(Reply(
        f"{lang.code}-outlook-web", lang.code, "outlook-web", _subject(lang),
        f'<html><body><div dir="ltr">{new_html}</div><div id="appendonsend"></div>'
        f'<hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr">'
        f'<font face="Calibri" style="font-size:11pt" color="#000000">{html_header}</font><div>&nbsp;</div></div>'
        f"<div>{old_html}</div></body></html>", lang.new, html=True))
    return cases


def _special() -> list[Reply]:
    """Shapes the issue lists by name, one language each, and cases that must stay whole."""
    new = "The scanner on floor 2 still jams.\nIt happens with every A3 sheet."
    old = _quote("Hello Jane,\ncould you tell us which scanner it is?\nThanks, IT")
    re = "Re: [#27182818] Scanner"
    cases: list[tuple[str, str, str, str, str]] = [
        # (id, language, family, body, expected)
        ("gmail-wrapped-address", "en", "gmail",
         f"{new}\n\nOn Wed, Dec 4, 2024 at 4:15 PM Help Desk <\nhelp@desk.example.com> wrote:\n\n{old}\n", new),
        ("gmail-three-lines", "en", "gmail",
         f"{new}\n\nOn Wed, Dec 4, 2024 at 4:15 PM Help\nDesk <help@desk.example.com>\nwrote:\n\n{old}\n", new),
        ("gmail-name-address-lines", "en", "gmail",
         f"{new}\n\nOn Wed, Dec 4, 2024 at 4:15 PM\nHelp Desk\n<help@desk.example.com>\nwrote:\n{old}\n", new),
        ("date-first-gmt", "de", "gmail",
         f"{new}\n\n2017-11-24 16:32 GMT+01:00 Help Desk <help@desk.example.com>:\n\n{old}\n", new),
        ("date-first-iso", "en", "gmail", f"{new}\n\n2024-12-04 16:15 GMT+00:00 {DESK}:\n{old}\n", new),
        ("verb-before-name-quoted", "de", "thunderbird",
         f"{new}\n\nAm 05.03.2024 10:02 schrieb \"Help Desk <help@desk.example.com>\":\n{old}\n", new),
        ("verb-before-name-android", "de", "gmail",
         f"{new}\n\n{DESK} schrieb am Di., 5. März 2024, 10:02:\n\n{old}\n", new),
        ("no-colon", "en", "gmail",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote\n\n{old}\n", new),
        ("dashes-around", "en", "zoho",
         f"{new}\n\n---- On Tue, 05 Mar 2024 10:02:00 +0100 {DESK} wrote ----\n\n{old}\n", new),
        ("polish-dnia", "pl", "webmail", f"{new}\n\nDnia 5 marca 2024 10:02 {DESK} napisał(a):\n{old}\n", new),
        ("polish-w-dniu", "pl", "gmail",
         f"{new}\n\nW dniu wt., 5 mar 2024 o 10:02 {DESK} napisał(a):\n\n{old}\n", new),
        ("polish-apple", "pl", "apple",
         f"{new}\n\nWiadomość napisana przez {DESK} w dniu 05.03.2024, o godz. 10:02:\n\n{old}\n", new),
        # The last words and the attribution on one line (clients that do not break before it).
        ("shared-line", "en", "webmail",
         f"{new} On Wed, Dec 4, 2024 at 4:15 PM, help@desk.example.com wrote:\n{old}\n", new),
        ("shared-line-dashes", "en", "webmail",
         f"{new}--- On Wed, Dec 4, 2024 at 4:15 PM, help@desk.example.com wrote:\n{old}\n", new),
        ("reply-message-separator", "en", "webmail", f"{new}\n\n-----Reply Message-----\n\n{old}\n", new),
        ("antwort-nachricht", "de", "webmail", f"{new}\n\n-----Antwort Nachricht-----\n\n{old}\n", new),
        ("android-wrote-dashes", "en", "android", f"{new}\n\n---- Help Desk wrote ----\n\n{old}\n", new),
        ("vietnamese", "vi", "gmail",
         f"{new}\n\nVào 10:02 5 tháng 3, 2024, {DESK} đã viết:\n\n{old}\n", new),
        # A sign-off without a "-- " delimiter below the quote is the sender's: it stays.
        ("signoff-below-quote", "en", "thunderbird",
         f"{new}\n\nOn 05/03/2024 10:02, Help Desk wrote:\n\n{old}\n\nRegards, Jane\n",
         f"{new}\n\nRegards, Jane"),
        ("signoff-below-quote-de", "de", "thunderbird",
         f"{new}\n\nAm 05.03.24 um 10:02 schrieb Help Desk:\n{old}\n\nViele Grüße\nJana\n",
         f"{new}\n\nViele Grüße\nJana"),
        # Header blocks that start with the date.
        ("header-block-date-first", "en", "webmail",
         f"{new}\n\nDate: Tue, 5 Mar 2024 10:02:00 +0100\nFrom: help@desk.example.com\n"
         f"To: jane@example.com\nSubject: Scanner\n\nWhich scanner is it?\n", new),
        # A link the client broke out of a quote, with and without its marker.
        ("link-broken-out-of-quote", "en", "webmail",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM, Help Desk wrote:\n\n> See the article\n"
         "> (https://desk.example.com/kb/scanner-jams?ref=mail\n&id=4711)\n> Thanks, IT\n", new),
        ("link-with-moved-marker", "en", "webmail",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM, Help Desk wrote:\n\n>\n> See the article\n>\n"
         " (https://desk.example.com/kb/4711) >\n> Thanks, IT\n", new),
        ("danish-oprindelig", "da", "webmail",
         f"{new}\n\n-------- Oprindelig besked --------\nFra: {DESK}\nDato: 05.03.2024 10:02\nTil: jane@example.com\n"
         "Emne: SV: Scanner\n\nHej Jane\n", new),
        ("french-message-du", "fr", "webmail",
         f"{new}\n\n> Message du 05/03/24 10:02\n> De : \"Help Desk\" <help@desk.example.com>\n> A : jane@example.com\n"
         "> Objet : Scanner\n>\n> Bonjour\n", new),
        ("french-message-du-unquoted", "fr", "webmail",
         f"{new}\n\nMessage du 05/03/24 10:02\nDe : \"Help Desk\" <help@desk.example.com>\nA : jane@example.com\n"
         "Objet : Scanner\n\nBonjour\n", new),
        ("outlook-mac", "en", "outlook-mac",
         f"{new}\n\nFrom: {DESK}\nDate: Tuesday, 5 March 2024 at 10:02\nTo: Jane Doe <jane@example.com>\n"
         f"Subject: {re}\n\nHello Jane\n", new),
        ("outlook-mac-de", "de", "outlook-mac",
         f"{new}\n\nVon: {DESK}\nDatum: Dienstag, 5. März 2024 um 10:02\nAn: Jane Doe <jane@example.com>\n"
         f"Betreff: {re}\n\nHallo Jane\n", new),
        ("outlook-bold-labels", "en", "outlook",
         f"{new}\n\n________________________________\n*From:* {DESK}\n*Sent:* Tuesday, March 5, 2024 10:02 AM\n"
         f"*To:* Jane Doe\n*Subject:* {re}\n\nHello\n", new),
        ("outlook-fullwidth-colons", "zh", "outlook",
         f"{new}\n\n发件人：{DESK}\n发送时间：2024年3月5日 10:02\n收件人：jane@example.com\n主题：{re}\n\n您好\n", new),
        ("outlook-cc-line", "nl", "outlook",
         f"{new}\n\nVan: {DESK}\nVerzonden: dinsdag 5 maart 2024 10:02\nAan: Jane\nCC: Piet\n"
         f"Onderwerp: {re}\n\nHallo\n", new),
        ("outlook-mobile", "en", "mobile",
         f"{new}\n\nGet Outlook for iOS\n________________________________\nFrom: {DESK}\nSent: Tuesday, March 5, 2024 "
         f"10:02:11 AM\nTo: Jane Doe <jane@example.com>\nSubject: {re}\n\nHello\n", f"{new}\n\nGet Outlook for iOS"),
        ("gmail-android", "en", "mobile",
         f"{new}\n\nOn Tue, 5 Mar 2024, 10:02 Help Desk, <help@desk.example.com> wrote:\n\n{old}\n", new),
        ("samsung-mail", "en", "mobile",
         f"{new}\n\nSent from my Galaxy\n\n\n-------- Original message --------\nFrom: {DESK}\n"
         f"Date: 05/03/2024 10:02 (GMT+01:00)\nTo: jane@example.com\nSubject: {re}\n\nHello\n",
         f"{new}\n\nSent from my Galaxy"),
        ("signature-below-history", "en", "gmail",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:\n{old}\n\n-- \nJane Doe\nFinance\n",
         f"{new}\n\n-- \nJane Doe\nFinance"),
        ("signature-below-history-tb", "de", "thunderbird",
         f"{new}\n\nAm 05.03.24 um 10:02 schrieb Help Desk:\n{old}\n\n-- \nJana Schmidt\nBuchhaltung\n",
         f"{new}\n\n-- \nJana Schmidt\nBuchhaltung"),
        ("signature-then-outlook", "en", "outlook",
         f"{new}\n\nJane Doe | Finance | +44 20 7946 0000\n\n________________________________\nFrom: {DESK}\n"
         f"Sent: Tuesday, March 5, 2024 10:02 AM\nTo: Jane Doe\nSubject: {re}\n\nHello\n",
         f"{new}\n\nJane Doe | Finance | +44 20 7946 0000"),
        ("disclaimer-then-outlook", "en", "outlook",
         f"{new}\n\nJane\n\nThis message is confidential and intended for its addressee only.\n\n"
         f"From: {DESK}\nSent: Tuesday, March 5, 2024 10:02 AM\nTo: Jane Doe\nSubject: {re}\n\nHello\n",
         f"{new}\n\nJane\n\nThis message is confidential and intended for its addressee only."),
        ("disclaimer-below-quote", "en", "gmail",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:\n{old}\n\nCONFIDENTIALITY NOTICE: This e-mail and "
         "any attachments are confidential and intended solely for the addressee. If you are not the intended "
         "recipient, please delete it.\n", new),
        ("mailman-footer", "en", "list",
         f"{new}\n\nOn 05/03/2024 10:02, Help Desk wrote:\n{old}\n\n_______________________________________________\n"
         "users mailing list\nusers@lists.example.org\nhttps://lists.example.org/mailman/listinfo/users\n", new),
        ("google-groups-footer", "en", "list",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:\n{old}\n\n-- \nYou received this message because "
         "you are subscribed to the Google Groups \"it-users\" group.\nTo unsubscribe from this group and stop "
         "receiving emails from it, send an email to it-users+unsubscribe@example.org.\n", new),
        ("list-footer-de", "de", "list",
         f"{new}\n\nAm 05.03.24 um 10:02 schrieb Help Desk:\n{old}\n\n---------------------------------------------\n"
         "Liste it-nutzer: zum Abmelden https://lists.example.org/abmelden\n", new),
        ("rewrapped-quote", "en", "outlook-plain",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:\n> Could you please check whether the scanner on "
         "the second floor still shows\nthe paper jam warning after you opened and closed the tray?\n> Thanks, IT\n",
         new),
        ("rewrapped-quote-no-attribution", "en", "outlook-plain",
         f"{new}\n\n> Could you please check whether the scanner on the second floor still shows the\npaper jam "
         "warning after you opened and closed the tray?\n>\n> Thanks, IT\n", new),
        ("rewrapped-two-lines", "de", "thunderbird",
         f"{new}\n\nAm 05.03.24 um 10:02 schrieb Help Desk:\n> Könnten Sie bitte nachsehen, ob der Scanner im zweiten "
         "Stock noch\nimmer den Papierstau meldet, nachdem Sie die Klappe geöffnet\n> und wieder geschlossen haben?\n",
         new),
        ("our-marker", "en", "gmail",
         f"Yes, please go ahead.\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:\n\n> ##- Please type your reply "
         "above this line -##\n>\n> Ticket 27182818 was updated.\n", "Yes, please go ahead."),
        ("our-marker-unquoted", "en", "outlook",
         "Please go ahead.\n\n##- Please type your reply above this line -##\nTicket 27182818 was updated.\n",
         "Please go ahead."),
        ("bottom-post", "en", "list",
         f"On 05/03/2024 10:02, Help Desk wrote:\n{old}\n\nIt is the Canon DR-C240.\n\n-- \nJane\n",
         "It is the Canon DR-C240.\n\n-- \nJane"),
        ("nested-history", "en", "gmail",
         f"{new}\n\nOn Tue, Mar 5, 2024 at 10:02 AM {DESK} wrote:\n{old}\n>\n> On Mon, Mar 4, 2024 at 9:00 AM Jane "
         "wrote:\n>> The scanner jams.\n", new),
        ("yahoo-html", "en", "yahoo",
         '<html><body><div class="ydp1"><div>The scanner on floor 2 still jams.</div><div>It happens with every A3 '
         'sheet.</div></div><div><br></div><div class="yahoo_quoted" id="yahoo_quoted_8812"><div style="font-family:'
         'Helvetica"><div>On Tuesday, March 5, 2024, 10:02:11 AM GMT+1, Help Desk &lt;help@desk.example.com&gt; '
         'wrote:</div><div><br></div><div><br></div><div><div dir="ltr">Hello Jane,</div><div dir="ltr">which '
         'scanner is it?</div></div></div></div></body></html>', new),
        ("yahoo-html-android", "de", "yahoo",
         '<html><body><div>The scanner on floor 2 still jams.</div><div>It happens with every A3 sheet.</div>'
         '<div id="ymail_android_signature">Von Yahoo Mail auf Android gesendet</div><div class="yahoo_quoted" '
         'style="margin:10px 0px 0px 0.8ex"><div>Am Di., 5. März 2024 um 10:02 schrieb Help Desk&lt;help@desk.'
         'example.com&gt;:</div><div>Hallo Jane,</div><div>welcher Scanner?</div></div></body></html>',
         f"{new}\nVon Yahoo Mail auf Android gesendet"),
        ("gmail-html-signature-after-quote", "en", "gmail",
         '<div dir="ltr"><div>The scanner on floor 2 still jams.</div><div>It happens with every A3 sheet.</div></div>'
         '<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Mar 5, 2024 at 10:02 AM Help Desk '
         '&lt;<a href="mailto:help@desk.example.com">help@desk.example.com</a>&gt; wrote:<br></div><blockquote '
         'class="gmail_quote" style="margin:0px 0px 0px 0.8ex">Hello Jane,<br>which scanner is it?</blockquote>'
         '</div><br clear="all"><div><br></div>-- <br><div dir="ltr" class="gmail_signature">Jane Doe<br>Finance'
         '</div>', f"{new}\n\n--\nJane Doe\nFinance"),
        ("apple-html", "en", "apple",
         '<html><body dir="auto"><div>The scanner on floor 2 still jams.</div><div>It happens with every A3 sheet.'
         '</div><div><br><blockquote type="cite"><div>On 5 Mar 2024, at 10:02, Help Desk &lt;help@desk.example.com'
         '&gt; wrote:</div><br><div><div>Hello Jane,</div><div>which scanner is it?</div></div></blockquote></div>'
         '</body></html>', new),
        ("thunderbird-html", "fr", "thunderbird",
         '<html><body><p>The scanner on floor 2 still jams.<br>It happens with every A3 sheet.</p><div '
         'class="moz-cite-prefix">Le 05/03/2024 à 10:02, Help Desk a écrit&nbsp;:<br></div><blockquote type="cite" '
         'cite="mid:x@desk.example.com">Bonjour,<br>quel scanner ?</blockquote></body></html>', new),
        ("interleaved", "en", "thunderbird",
         "On 05/03/2024 10:02, Help Desk wrote:\n> Which scanner is it?\n\nThe Canon DR-C240.\n\n> Which floor?\n\n"
         "Floor 2.\n", "On 05/03/2024 10:02, Help Desk wrote:\n> Which scanner is it?\n\nThe Canon DR-C240.\n\n"
         "> Which floor?\n\nFloor 2."),
        ("interleaved-unanswered-rest", "en", "thunderbird",
         "> Which scanner is it?\n\nThe Canon DR-C240.\n\n> Which floor?\n> And since when?\n",
         "> Which scanner is it?\n\nThe Canon DR-C240."),
        ("prose-not-attribution", "en", "new", "On Monday my colleague wrote:\nthe scanner is broken again.\n",
         "On Monday my colleague wrote:\nthe scanner is broken again."),
        ("prose-with-labels", "en", "new",
         "From: the accounting team\nTo: IT\nWe need three more scanners on floor 2.\n",
         "From: the accounting team\nTo: IT\nWe need three more scanners on floor 2."),
        ("pasted-error-quote", "en", "new",
         "The scanner shows this:\n\n> Error 0x80070005: access denied\n\n-- \nJane\n",
         "The scanner shows this:\n\n> Error 0x80070005: access denied\n\n-- \nJane"),
        ("quote-then-question", "en", "new",
         "Your knowledge base says:\n> Restart the scanner to clear a jam.\nThat did not help, what next?\n",
         "Your knowledge base says:\n> Restart the scanner to clear a jam.\nThat did not help, what next?"),
        ("date-in-new-text", "en", "new",
         "On 5 March at 10:02 the scanner stopped, and Jane wrote:\n\"it jams on every A3 sheet\"\nPlease help.\n",
         "On 5 March at 10:02 the scanner stopped, and Jane wrote:\n\"it jams on every A3 sheet\"\nPlease help."),
        ("no-history", "ja", "new", "スキャナーが紙詰まりします。\n確認をお願いします。\n",
         "スキャナーが紙詰まりします。\n確認をお願いします。"),
    ]
    out = [Reply(f"special-{id_}", language, family, re, body, expected.strip("\n"), html=body.startswith("<"))
           for id_, language, family, body, expected in cases]
    return out


def _forwards() -> list[Reply]:
    """Forwards: the forwarded message is the question; all of it stays."""
    intro = "Please see the message below, the VPN drops every hour."
    cases = [
        ("gmail", "en", "Fwd: VPN", "---------- Forwarded message ---------\nFrom: Ops <ops@example.com>\n"
         "Date: Tue, Mar 5, 2024 at 10:02 AM\nSubject: VPN\nTo: <jane@example.com>\n\nThe VPN gateway restarts "
         "hourly.\n"),
        ("gmail-de", "de", "Fwd: VPN", "---------- Weitergeleitete Nachricht ---------\nVon: Ops <ops@example.com>\n"
         "Date: Di., 5. März 2024 um 10:02 Uhr\nSubject: VPN\nTo: <jane@example.com>\n\nDas VPN bricht ab.\n"),
        ("outlook", "en", "FW: VPN", "________________________________\nFrom: Ops <ops@example.com>\nSent: Tuesday, "
         "March 5, 2024 10:02 AM\nTo: Jane Doe\nSubject: VPN\n\nThe VPN gateway restarts hourly.\n"),
        ("outlook-de", "de", "WG: VPN", "-----Ursprüngliche Nachricht-----\nVon: Ops <ops@example.com>\nGesendet: "
         "Dienstag, 5. März 2024 10:02\nAn: Jana\nBetreff: VPN\n\nDas VPN bricht ab.\n"),
        ("outlook-fr", "fr", "TR: VPN", "De : Ops <ops@example.com>\nEnvoyé : mardi 5 mars 2024 10:02\nÀ : Jeanne\n"
         "Objet : VPN\n\nLe VPN coupe.\n"),
        ("outlook-es", "es", "RV: VPN", "De: Ops <ops@example.com>\nEnviado el: martes, 5 de marzo de 2024 10:02\n"
         "Para: Juana\nAsunto: VPN\n\nLa VPN se corta.\n"),
        ("outlook-it", "it", "I: VPN", "Da: Ops <ops@example.com>\nInviato: martedì 5 marzo 2024 10:02\nA: Giovanna\n"
         "Oggetto: VPN\n\nLa VPN cade.\n"),
        ("outlook-da", "da", "VS: VPN", "Fra: Ops <ops@example.com>\nSendt: 5. marts 2024 10:02\nTil: Johanne\n"
         "Emne: VPN\n\nVPN'en falder ud.\n"),
        ("apple", "en", "Fwd: VPN", "Begin forwarded message:\n\n> From: Ops <ops@example.com>\n> Subject: VPN\n"
         "> Date: 5 March 2024 at 10:02:00 CET\n> To: jane@example.com\n>\n> The VPN gateway restarts hourly.\n"),
        ("thunderbird", "en", "Fwd: VPN", "-------- Forwarded Message --------\nSubject: \tVPN\n"
         "Date: \tTue, 5 Mar 2024 10:02:00 +0100\nFrom: \tOps <ops@example.com>\nTo: \tjane@example.com\n\n"
         "The VPN gateway restarts hourly.\n"),
        ("thunderbird-nl", "nl", "Fwd: VPN", "-------- Doorgestuurd bericht --------\nOnderwerp: \tVPN\nDatum: \t"
         "Tue, 5 Mar 2024 10:02:00 +0100\nVan: \tOps <ops@example.com>\n\nDe VPN valt weg.\n"),
        ("forward-with-attribution", "en", "Fwd: VPN", "---------- Forwarded message ---------\nFrom: Ops "
         "<ops@example.com>\nDate: Tue, Mar 5, 2024\nSubject: VPN\n\nSee below.\n\nOn Mon, Mar 4, 2024 at 9:00 AM "
         "Bob <bob@example.com> wrote:\n> The VPN gateway restarts hourly.\n"),
        ("reply-with-inline-forward", "en", "Re: [#27182818] VPN", "---------- Forwarded message ---------\nFrom: Ops "
         "<ops@example.com>\nDate: Tue, Mar 5, 2024 at 10:02 AM\nSubject: VPN\n\nThe VPN gateway restarts hourly.\n"),
        # Some clients quote a forwarded message whole, its header block too, with no forward line.
        ("quoted-header-block", "en", "Fwd: VPN", "> From: \"Ops\" <ops@example.com>\n> Date: 5. March 2024 "
         "10:02:15 GMT+01:00\n> To: \"Jane\" <jane@example.com>\n> Subject: VPN\n>\n> The VPN gateway restarts "
         "hourly.\n"),
        ("outlook-ru", "ru", "FW: VPN", "От: Ops <ops@example.com>\nОтправлено: 5 марта 2024 г. 10:02\nКому: Анна\n"
         "Тема: VPN\n\nVPN отключается.\n"),
    ]
    out = []
    for id_, language, subject, forwarded in cases:
        body = f"{intro}\n\n{forwarded}"
        out.append(Reply(f"forward-{id_}", language, "forward", subject, body, body.strip(), forward=True))
    return out


CORPUS: list[Reply] = [case for lang in LANGUAGES for case in _per_language(lang)] + _special() + _forwards()


def lines_of(text: str) -> list[str]:
    """A text's lines as compared: stripped, runs of blank lines as one, none at either end."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = " ".join(line.split())
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def judge(case: Reply, got: str) -> tuple[bool, bool, bool]:
    """(exactly the expected text, history left in, new text lost) for one parser's answer."""
    want, have = lines_of(case.expected), lines_of(got)
    wanted, had = [line for line in want if line], [line for line in have if line]
    lost = any(line not in had for line in wanted)
    left = any(line not in wanted for line in had)
    return want == have, left, lost
