/**
 * What Home Assistant's MQTT tag trigger takes as the tag id of a card.inserted
 * event: the Home Assistant tag id when the tag carries one (an NDEF URI
 * https://www.home-assistant.io/tag/<id>, written by the companion app, so
 * the same tag gives the same id on a phone and on the gateway), else the UID.
 * HA ignores an empty result, so only this reader's card.inserted events scan.
 */
export function haTagValueTemplate(readerName: string): string {
  const reader = JSON.stringify(readerName);
  return (
    `{% if value_json.type == 'card.inserted' and value_json.reader == ${reader} %}` +
    `{% if value_json.data.haTagId is defined %}{{ value_json.data.haTagId }}` +
    `{% elif value_json.data.uid is defined %}{{ value_json.data.uid }}{% endif %}{% endif %}`
  );
}
