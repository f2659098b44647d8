"""What mail clients write around quoted history, in the languages our requesters use: the
words of attribution lines, Outlook's translated header labels, original-message and
forward separators, reply prefixes of subjects, and the trailers (signatures, "Sent from
my phone", list footers, disclaimers) that may follow a quote.

Written from the clients' own strings (Gmail's, Outlook's and Thunderbird's translations,
Apple Mail's) and the vocabulary of mail-parser-reply's language table; data only, read by
shared.mail.inbound.quoted. Every pattern is a regular expression without nested
quantifiers, applied to one line or to a window of at most four short lines.
"""

from __future__ import annotations

import re

# Reply prefixes of subjects: Re, AW (de), SV (sv/da/no), Antw (nl), RES/RE (pt),
# Odp (pl), Rif/R (it), YNT (tr), Ответ/Отв (ru), 回复/答复/回覆 (zh), 返信 (ja), 답장 (ko), ΑΠ (el),
# Vá (hu), Atb (lv), Odg (hr), possibly after a "[list]" tag and with a counter. Not VS: Finnish
# Outlook answers with it, but Danish and Norwegian Outlook forward with it, and a forward
# read as a reply would lose the forwarded message.
REPLY_SUBJECT = re.compile(
    r"^\s*(\[[^\]]*\]\s*)?(re|aw|sv|antw|antwort|res|odp|rif|r|ynt|отв|ответ|回复|答复|回覆|返信|답장|απ|vá|atb|odg)"
    r"\s*(\[\d+\]|\(\d+\))?\s*[:：]", re.I)

# The verbs of attribution lines ("On <date>, <name> wrote:") in the clients' translations.
_VERBS = (
    r"wrote|writes|has written|schrieb|schreibt|hat geschrieben|a [ée]crit|[ée]crit|escribi[óo]|ha escrito"
    r"|ha scritto|scrisse|schreef|heeft geschreven|skrev|skrifaði|escreveu|napisa[łl]\s*\(a\)|napisa[łl]a?"
    r"|pisze|napsal\s*\(a\)|napsala?|nap[íi]sal|kirjoitti|написал\s*\(а\)|написала?|пишет|написав|yazd[ıi]"
    r"|έγραψε|írta|a scris|je napisala?|rašė|rakstīja|kirjutas|het volgende geschreven|đã viết"
)
# The verb ends the attribution, or is followed by the name ("schrieb Jane <j@x>:", "skrev Jane:").
_CJK_VERBS = r"写道|寫道|のメッセージ|のメール|書きました|작성"
ATTRIBUTION_VERB = re.compile(
    rf"(?:(?:^|[\s,(>\"'])(?:{_VERBS})|{_CJK_VERBS})(?:\s*[^\s:：](?:[^:：]|\d[:：]\d){{0,90}}|\s*\([^()]{{0,80}}\))?"
    r"\s*[:：]\s*$", re.I)
# Attributions that open with the verb: "Wiadomość napisana przez Jane <j@x> w dniu 05.03.2024, o godz. 10:02:".
ATTRIBUTION_LEAD = re.compile(r"^\s*(?:wiadomość napisana przez|message from|nachricht von)\s.{0,200}[:：]\s*$", re.I)
# Without a colon ("On Tue, 5 Mar 2024 at 10:02, Jane wrote"), only with the verb last.
ATTRIBUTION_VERB_LAST = re.compile(rf"(?:^|\s)(?:{_VERBS})\s*$", re.I)
# How attributions that run over several lines begin: "On", "Am", "Le", "El", "Il giorno",
# "Op", "Den", "Em", "W dniu", "Dnia", "Dne", a weekday or a date.
ATTRIBUTION_START = re.compile(
    r"^\s*(?:(?:on|am|le|el|il|il giorno|op|den|em|w dniu|dnia|dne|в|de|na)\b|\d|[a-zà-ÿа-я]{2,4}\.?,?\s+\d)", re.I)
# A date or a time: an attribution has one, prose in the new text rarely has one together
# with a wrote-verb and a colon.
DATE = re.compile(
    r"\d{4}|\d{1,2}[:.h]\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2}|\d{1,2}\.?\s*(?:de\s+)?[a-zа-яà-ÿ]{3,}\.?\s+(?:de\s+)?\d{2,4}"
    r"|\d{1,2}月|\d{1,2}월", re.I)
# A time of day ("10:02", "10.02", "9:30 AM"): an attribution above unquoted history must have one.
TIME = re.compile(r"(?<![\d.:])\d{1,2}[:.]\d{2}(?![\d.])")
# "2024-03-05 10:02 GMT+01:00 Jane <jane@x>:", "пн, 5 мар. 2024 г. в 10:02, Иван <i@x>:",
# "2024年3月5日(火) 10:02 Jane <jane@x>:": a date, then an address closing the line with a colon.
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ADDRESS_LAST = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+\s*[>)\]]*\)?\s*[:：]\s*$")

# Outlook's header block above the original message, and other clients' copies of it.
_FROM = (r"from|von|de|van|da|fra|från|od|lähettäjä|от|差出人|送信者|发件人|寄件者|보낸\s*사람|kimden|feladó|από"
         r"|remetente|mittente|afzender|avsändare|відправник|expéditeur|absender")
_SENT = (r"sent|date|gesendet|datum|envoy[ée](?:\s+le)?|enviad[oa](?:\s+el|\s+em)?|fecha|data|verzonden|inviato"
         r"|sendt|dato|skickat|wysłano|wysłane|lähetetty|päivämäärä|отправлено|дата|送信日時|日時|日付|发送时间"
         r"|發送時間|날짜|보낸\s*날짜|tarih|gönderildi|elküldve|dátum|ημερομηνία|στάλθηκε|odesláno|gesendet am")
_TO = (r"to|an|à|a|para|aan|til|till|do|vastaanottaja|кому|宛先|收件人|받는\s*사람|kime|címzett|προς|komu|per"
       r"|pour|destinatário|destinatario")
_SUBJECT = (r"subject|betreff|objet|asunto|assunto|onderwerp|oggetto|emne|ämne|temat|aihe|тема|件名|主题|主旨"
            r"|제목|konu|tárgy|θέμα|předmět")
_CC = r"cc|kopie|kopia|kopio|копия|抄送|副本|참조|bilgi|másolat|κοιν|kopi"


def _label(words: str) -> re.Pattern[str]:
    # "From:", "*From:*", "De :" (French puts a space before the colon), "> From:".
    return re.compile(rf"^[>\s]*\*?(?:{words})\s*\*?\s*[:：]", re.I)


FROM_LABEL = _label(_FROM)
SENT_LABEL = _label(_SENT)
TO_LABEL = _label(_TO)
SUBJECT_LABEL = _label(_SUBJECT)
CC_LABEL = _label(_CC)

# "-----Original Message-----" and its translations; in a reply it starts the history,
# in a forward it introduces the forwarded message.
ORIGINAL_LINE = re.compile(
    r"^[>\s]*-{2,}\s*(?:original message|urspr[üu]ngliche nachricht|original-nachricht|message d'origine"
    r"|message original|mensaje original|mensagem original|messaggio originale|oorspronkelijk bericht"
    r"|origineel bericht|oprindelig (?:meddelelse|besked)|opprinnelig melding|ursprungligt meddelande"
    r"|originalmeddelande|alkuperäinen viesti|wiadomość oryginalna|oryginalna wiadomość|исходное сообщение"
    r"|původní zpráva|orijinal mesaj|eredeti üzenet|αρχικό μήνυμα|原始邮件|原始郵件|元のメッセージ|원본 메시지"
    # Some webmails and mobile clients: "-----Reply Message-----", "-----Antwort Nachricht-----".
    r"|reply message|antwort nachricht"
    # Android's own mail app: "---- Jane Doe wrote ----" (no date, no colon).
    rf"|[^-]{{1,80}}\s(?:{_VERBS}))"
    r"\s*-{2,}\s*$", re.I)

# Inline forwards: the forwarded content is the question, so it is kept.
FORWARD_LINE = re.compile(
    r"^\s*(?:-+\s*(?:forwarded message|forwarded message follows|weitergeleitete nachricht|message transf[ée]r[ée]"
    r"|mensaje reenviado|mensagem encaminhada|mensagem reencaminhada|messaggio inoltrato|doorgestuurd bericht"
    r"|videresendt (?:meddelelse|besked|melding)|vidarebefordrat meddelande|välitetty viesti"
    r"|przekazana wiadomość|wiadomość przekazana|пересылаемое сообщение|пересланное сообщение"
    r"|転送されたメッセージ|转发的邮件|전달된 메시지|iletilen mesaj|továbbított üzenet|přeposlaná zpráva)\s*-+"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:|d[ée]but du message r[ée]exp[ée]di[ée]\s*:"
    r"|inizio messaggio inoltrato:|begin doorgestuurd bericht:|in[íi]cio da mensagem reencaminhada:"
    r"|comienzo del mensaje reenviado:)\s*$", re.I)

# A line some webmails put above their header block: "Message du 05/03/24 10:02" (Orange).
HEADER_INTRO = re.compile(r"^[>\s]*(?:message du|nachricht vom|mensaje del?)\s+\d", re.I)

# Separators drawn above a header block (Outlook's underscores, other clients' dashes).
SEPARATOR = re.compile(r"^\s*(?:_{8,}|-{8,}|={8,})\s*$")

# What may follow a quote and still belong to the new message (kept) or to the server (dropped).
SIGNATURE_DELIMITER = re.compile(r"^(?:-- ?|—)$")
# A sign-off that opens a short signature without a delimiter ("Regards, Roman"; "Best,"
# then a name): kept below a quote as the sender's own, as a delimited signature is.
SIGN_OFF = re.compile(
    r"^\s*(?:(?:best|kind|warm|many thanks and)?\s*regards|best(?: wishes)?|thanks(?: again)?|thank you"
    r"|cheers|sincerely|yours(?: sincerely| truly)?|mit freundlichen gr[üu](?:ß|ss)en|viele gr[üu](?:ß|ss)e"
    r"|(?:liebe |beste )?gr[üu](?:ß|ss)e?|cordialement|bien [àa] vous|salutations|saludos(?: cordiales)?"
    r"|un saludo|atentamente|cordiali saluti|saluti|distinti saluti|met vriendelijke groet(?:en)?|groeten"
    r"|med vänliga hälsningar|vänliga hälsningar|hälsningar|mvh|med venlig hilsen|venlig hilsen|hilsen"
    r"|med vennlig hilsen|pozdrawiam|z poważaniem|ystävällisin terveisin|terveisin|с уважением"
    r"|atenciosamente|abraços|cumprimentos)\b[\s,.!]*(?:\S.{0,60})?$", re.I)
SENT_FROM = re.compile(
    r"^\s*(?:sent from (?:my|mail for|outlook|yahoo)|get outlook for|envoy[ée] (?:de|depuis) mon|gesendet von meinem"
    r"|von meinem \S+ gesendet|enviado desde mi|enviado do meu|inviato da(?:l mio)?|verzonden (?:vanaf|met) mijn"
    r"|verstuurd vanaf mijn|sendt fra min|skickat från min|lähetetty|wysłano z|отправлено с|\S+から送信)", re.I)
LIST_FOOTER = re.compile(
    r"mailing list|listinfo|unsubscribe|abbestellen|abmelden|d[ée]sinscri|darse de baja|desinscrever|cancellarti"
    r"|afmelden|avregistrer|you received this message because|google groups", re.I)
DISCLAIMER = re.compile(
    r"confidential|intended recipient|disclaimer|vertraulich|confidentiel|confidencial|riservat|vertrouwelijk"
    r"|fortrolig|konfidentiell|luottamuksellinen|poufn|конфиденциальн|機密", re.I)
